import { type IncomingMessage, type ServerResponse } from 'node:http';
import { Controller, Delete, HttpCode, Inject, Post, Req, Res, UseFilters } from '@nestjs/common';
import { pathOf, type UnreadBodies } from '@causeway/cqrs-core/nest';
import { bearerToken, CallerGate, TrustedProxies } from '@causeway/platform';
import { GATEWAY_OPTIONS, type GatewayModuleOptions } from '../gateway/gateway.options';
import { RetryAfterFilter } from './retry-after.filter';
import { SECURE_SESSION_COOKIE, SESSION_COOKIE, StreamAuthenticator } from './stream.authenticator';

/** POST /api/stream-tokens and /api/session, as Express routes them (any case, a trailing slash). */
const BODILESS_POST = /^\/api\/(?:stream-tokens|session)\/?$/i;
/** DELETE /api/session, likewise. */
const BODILESS_DELETE = /^\/api\/session\/?$/i;

/**
 * Whether a request is a POST /api/stream-tokens or /api/session, or a DELETE /api/session:
 * parseBodies (UNREAD_BODIES) then reads no body of it. They take none. The POSTs take only the
 * bearer token: without it the handler answers 401 (429 once the address spent its rate)
 * whatever the body, with it the stream token or the cookie. Read first, a caller had the
 * gateway parse a body up to 100 kB and was answered 400 or 413 about one the route never reads,
 * with or without a token; so was a logout (DELETE), its cookie left set (session 49).
 */
export const bodilessSessionRoute: UnreadBodies = (request) => {
  const path = pathOf(request.url) ?? '';
  if (request.method === 'POST') return BODILESS_POST.test(path);
  return request.method === 'DELETE' && BODILESS_DELETE.test(path);
};

/**
 * How a browser gets credentials for GET /events, which EventSource cannot send as a header:
 * a short-lived stream token for `?token=`, or an HttpOnly, SameSite=Strict session cookie
 * (`__Host-causeway_token`, Secure, when the client used TLS; else `causeway_token`).
 */
@Controller('api')
@UseFilters(RetryAfterFilter)
export class SessionController {
  constructor(
    @Inject(StreamAuthenticator) private readonly auth: StreamAuthenticator,
    @Inject(CallerGate) private readonly gate: CallerGate,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayModuleOptions,
  ) {}

  @Post('stream-tokens')
  @HttpCode(201)
  async streamToken(@Req() req: IncomingMessage): Promise<{ token: string; expiresAt: number }> {
    const caller = await this.gate.admit(req, () => this.auth.bearer(req));
    // The stream it opens ends with the access token it was issued for, not 60 s later.
    return this.options.tokens.issue(caller.userId, {
      use: 'stream',
      trainerIds: caller.trainerIds,
      sessionExpiresAt: caller.expiresAt,
      sessionIssuedAt: caller.issuedAt,
    });
  }

  /** Sets the caller's (verified) access token as the session cookie; it expires with the token. */
  @Post('session')
  @HttpCode(204)
  async open(
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<void> {
    await this.gate.admit(req, () => this.auth.bearer(req));
    const token = bearerToken(req.headers.authorization)!;
    // The browser drops the cookie when the token inside stops working, instead of sending it
    // (and getting 401s) for the rest of the browser session.
    const maxAge = Math.max(0, expiresAt(token) - Math.floor(Date.now() / 1000));
    const secure = this.secure(req);
    res.setHeader(
      'Set-Cookie',
      `${cookie(secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE, encodeURIComponent(token), secure)}; Max-Age=${maxAge}`,
    );
  }

  /**
   * Needs no credential: counted against the client's address. Under TLS it clears both names
   * (a `causeway_token` may have been set before the prefix, or over plain http).
   */
  @Delete('session')
  @HttpCode(204)
  async close(
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<void> {
    await this.gate.charge(this.gate.addressKey(req));
    const secure = this.secure(req);
    const names = secure ? [SECURE_SESSION_COOKIE, SESSION_COOKIE] : [SESSION_COOKIE];
    res.setHeader(
      'Set-Cookie',
      names.map((name) => `${cookie(name, '', secure)}; Max-Age=0`),
    );
  }

  /**
   * Whether the client used TLS: to this app, or to a proxy trusted with TRUST_PROXY. Then the
   * cookie is Secure and named with the `__Host-` prefix, which browsers accept only so (and
   * with `Path=/`, no Domain): the same judgement as `Secure`, so an X-Forwarded-Proto that is
   * not believed changes neither.
   */
  private secure(req: IncomingMessage): boolean {
    const proxies = this.options.trustedProxies ?? TrustedProxies.none;
    return proxies.isSecure(req.socket, req.headers['x-forwarded-proto']);
  }
}

function cookie(name: string, value: string, secure: boolean): string {
  return `${name}=${value}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`;
}

/** The `exp` (seconds) of a JWT whose signature and expiry were verified already. */
function expiresAt(token: string): number {
  const payload = JSON.parse(
    Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'),
  ) as {
    exp?: unknown;
  };
  return typeof payload.exp === 'number' ? payload.exp : 0;
}
