import { ProblemException, problemType } from '@causeway/cqrs-core/nest';
import {
  bearerChallenge,
  bearerToken,
  type Caller,
  InvalidTokenError,
  type TokenRefusal,
  type TokenService,
  queryParameter,
} from '@causeway/platform';

/** The HttpOnly cookie that carries an access token for browsers (POST /api/session). */
export const SESSION_COOKIE = 'causeway_token';

/**
 * The session cookie's name when the client used TLS (`Secure`): with the `__Host-` prefix a
 * browser takes it only from this host, over TLS, for `Path=/` — a sibling subdomain or a
 * plain-http page cannot set or shadow it (a `causeway_token` of theirs, on a longer path, came
 * first in the Cookie header and was the one read). Read before SESSION_COOKIE.
 */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;

export interface StreamRequest {
  headers: Record<string, string | string[] | undefined>;
  query?: Record<string, unknown>;
}

/**
 * Who is calling, by the first credential present (a bad one is 401 even if another would have
 * been good; a malformed one too):
 * - `stream` (GET /events): `Authorization: Bearer <access token>`, else `?token=<stream token>`
 *   (for EventSource, which cannot set headers; 400 if repeated), else the session cookie
 *   (access token: `__Host-causeway_token`, else `causeway_token`, see sessionCookie);
 * - `access` (what a page reads: GET /api/positions, /api/presence): an access token, as the
 *   bearer token, else the cookie — a stream token is for the stream only;
 * - `bearer` (POST /api/stream-tokens, /api/session: they hand out credentials): the bearer
 *   access token only.
 */
export class StreamAuthenticator {
  constructor(private readonly tokens: TokenService) {}

  async stream(request: StreamRequest): Promise<Caller> {
    const bearer = bearerToken(header(request, 'authorization'));
    if (bearer) return this.verify(bearer, 'access', 'bearer token');
    const query = queryParameter(request.query, 'token');
    if (query) return this.verify(query, 'stream', 'token parameter');
    const cookie = sessionCookie(header(request, 'cookie'));
    if (cookie) return this.verify(cookie.token, 'access', `${cookie.name} cookie`);
    throw unauthorized(
      `a bearer access token, a ?token= stream token or the ${SESSION_COOKIE} cookie is required`,
    );
  }

  async access(request: StreamRequest): Promise<Caller> {
    const bearer = bearerToken(header(request, 'authorization'));
    if (bearer) return this.verify(bearer, 'access', 'bearer token');
    const cookie = sessionCookie(header(request, 'cookie'));
    if (cookie) return this.verify(cookie.token, 'access', `${cookie.name} cookie`);
    throw unauthorized(`a bearer access token or the ${SESSION_COOKIE} cookie is required`);
  }

  async bearer(request: StreamRequest): Promise<Caller> {
    const bearer = bearerToken(header(request, 'authorization'));
    if (!bearer) throw unauthorized('a bearer access token is required');
    return this.verify(bearer, 'access', 'bearer token');
  }

  private async verify(token: string, use: 'access' | 'stream', what: string): Promise<Caller> {
    try {
      return await this.tokens.verify(token, use);
    } catch (error) {
      if (error instanceof InvalidTokenError)
        throw unauthorized(`${what}: ${error.message}`, error.refusal);
      throw error;
    }
  }
}

/**
 * The 401 of a request without a usable credential. `reason` says what a client does next:
 * `missing` — send one; `expired` — renew the token; `invalid` — get a new one (it will never
 * pass). A presented token that failed is challenged with RFC 6750's `error="invalid_token"`.
 */
export function unauthorized(
  detail: string,
  reason: 'missing' | TokenRefusal = 'missing',
): ProblemException {
  return new ProblemException(
    { type: problemType('unauthenticated'), title: 'Unauthorized', status: 401, detail, reason },
    { headers: { 'WWW-Authenticate': bearerChallenge(reason === 'missing' ? undefined : reason) } },
  );
}

function header(request: StreamRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The session cookie of a Cookie header: SECURE_SESSION_COOKIE when there is one (set under TLS,
 * which only this host can), else SESSION_COOKIE (set without TLS, or before the prefix).
 */
function sessionCookie(header: string | undefined): { name: string; token: string } | undefined {
  for (const name of [SECURE_SESSION_COOKIE, SESSION_COOKIE]) {
    const token = readCookie(header, name);
    if (token) return { name, token };
  }
  return undefined;
}

/** The first cookie `name`, URL-decoded (as POST /api/session encodes it); 401 if it cannot be. */
function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) {
      const value = part.slice(index + 1).trim();
      if (value.length === 0) return undefined;
      try {
        return decodeURIComponent(value);
      } catch {
        throw unauthorized(`${name} cookie: not a URL-encoded token`, 'invalid');
      }
    }
  }
  return undefined;
}
