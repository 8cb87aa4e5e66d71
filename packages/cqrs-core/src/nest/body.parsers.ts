import { type IncomingMessage, type ServerResponse } from 'node:http';
import { type INestApplication } from '@nestjs/common';
import { ADMIN_TOKEN, AdminToken } from './admin-token.guard';
import { ProblemException, problemType } from './problem-details.filter';

type Next = (error?: unknown) => void;
type Middleware = (request: IncomingMessage, response: ServerResponse, next: Next) => void;

/** What parseBodies uses of a Nest app on Express (NestExpressApplication) and its adapter. */
interface BodyParsingApp {
  useBodyParser(type: 'json' | 'urlencoded', options?: Record<string, unknown>): unknown;
  use(
    handler:
      Middleware | ((error: unknown, request: unknown, response: unknown, next: Next) => void),
  ): unknown;
  getHttpAdapter(): { use(...handlers: unknown[]): unknown };
}

/**
 * Nest's own body parsers (JSON; forms, `extended`), registered where Nest would (after the
 * app's setup, ahead of the routes), with what they refuse answered as the problems every app
 * names alike: a body that is not JSON is `malformed-json` (400, the parser's reason in
 * `detail`), one in a charset the parser cannot read `unsupported-media-type` (415). Nest's
 * default turns the first into a bare "Bad Request" and leaves the second untyped. Any JSON
 * text is parsed, not only objects and arrays (`null`, `42`, `"x"` reach the handler as such,
 * as in command-api): whether it is the right shape is the endpoint's call, which can name the
 * body, where the strict parser called valid JSON "not valid JSON". No body leaves
 * `request.body` undefined. The app must be created with `bodyParser: false`.
 *
 * The body of a request to `/admin/…` without the admin token (ADMIN_TOKEN, the one
 * DeadLettersAdminModule's guard checks) is not read: its guard answers 401 (or its `refused`
 * hook 429) whatever the body, so that a caller without the token cannot have the app read and
 * parse up to the parsers' limit, nor learn from a 400 or 413 what the route would accept. A
 * global prefix (`setGlobalPrefix`) moves the routes away from `/admin/…`: their bodies are then
 * parsed before the guard, as Nest's own parsers do for every route. An app's own admin routes
 * elsewhere get the same from an UNREAD_BODIES provider.
 */
export function parseBodies(app: INestApplication): void {
  const express = app as unknown as BodyParsingApp;
  const json = parserOf(express, 'json', { strict: false });
  const forms = parserOf(express, 'urlencoded', { extended: true });
  const unread = adminRequestWithoutToken(app);
  const own = unreadBodiesOf(app);
  const gate: Middleware = (request, response, next) => {
    if (unread(request) || own(request)) return next();
    json(request, response, (error) => (error ? next(error) : forms(request, response, next)));
  };
  express.use(gate);
  express.use((error, _request, _response, next) => next(bodyProblem(error) ?? error));
}

/**
 * The parser Nest's `useBodyParser` builds (with the app's `rawBody` option), without the
 * adapter registering it for every request: parseBodies decides which requests it reads.
 * @throws Error when the adapter registers none (not Express, or a Nest that builds it otherwise)
 */
function parserOf(
  app: BodyParsingApp,
  type: 'json' | 'urlencoded',
  options: Record<string, unknown>,
): Middleware {
  const adapter = app.getHttpAdapter() as { use: (...handlers: unknown[]) => unknown };
  const own = Object.prototype.hasOwnProperty.call(adapter, 'use');
  const use = adapter.use;
  let parser: unknown;
  adapter.use = (handler: unknown) => {
    parser = handler;
    return adapter;
  };
  try {
    app.useBodyParser(type, options);
  } finally {
    if (own) adapter.use = use;
    else delete (adapter as { use?: unknown }).use;
  }
  if (typeof parser !== 'function')
    throw new Error(`parseBodies: the HTTP adapter built no ${type} body parser (Express needed)`);
  return parser as Middleware;
}

/** The operators' paths, case-insensitive as Express routes them. */
const ADMIN_PATH = /^\/admin(?:[/?#]|$)/i;

/**
 * Whether a request is one to `/admin/…` without the app's admin token (ADMIN_TOKEN, looked up
 * at the first such request, once the app's modules are built). Without an ADMIN_TOKEN provider
 * nothing is: an app's own admin routes checking a token of their own get their bodies parsed.
 */
function adminRequestWithoutToken(app: INestApplication): (request: IncomingMessage) => boolean {
  let admin: AdminToken | null | undefined;
  return (request) => {
    if (!ADMIN_PATH.test(request.url ?? '')) return false;
    if (admin === undefined) admin = adminTokenOf(app);
    return admin !== null && !admin.matches(request);
  };
}

function adminTokenOf(app: INestApplication): AdminToken | null {
  let token: unknown;
  try {
    token = app.get(ADMIN_TOKEN, { strict: false });
  } catch {
    return null; // No DeadLettersAdminModule.
  }
  return typeof token === 'string' ? new AdminToken(token) : null;
}

/**
 * The provider of an app's own admin routes outside `/admin/…` (sse-gateway's
 * `POST /api/presence/{userId}/disconnect`, which checks a token of its own): whether a request
 * is one to them without their token. parseBodies reads no body of such a request, as of one to
 * `/admin/…` without ADMIN_TOKEN: its handler answers 401 whatever the body, so a caller without
 * the token cannot have the app read and parse up to the parsers' limit, nor learn from a 400 or
 * 413 what the route would take. One per app (the first found is asked); must not throw.
 */
export const UNREAD_BODIES = Symbol('causeway:unread-bodies');
export type UnreadBodies = (request: IncomingMessage) => boolean;

/** The app's UNREAD_BODIES (looked up at the first request, once its modules are built). */
function unreadBodiesOf(app: INestApplication): UnreadBodies {
  let own: UnreadBodies | null | undefined;
  return (request) => {
    if (own === undefined) {
      let provided: unknown;
      try {
        provided = app.get(UNREAD_BODIES, { strict: false });
      } catch {
        provided = null; // None: only `/admin/…` is left unread.
      }
      own = typeof provided === 'function' ? (provided as UnreadBodies) : null;
    }
    return own !== null && own(request);
  };
}

/** The content codings body-parser decompresses (besides identity). */
const DECODED = 'gzip, deflate, br';

/** The problem of a body parser's refusal (http-errors with body-parser's `type`), if it is one. */
export function bodyProblem(error: unknown): ProblemException | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { type, message, code } = error as { type?: unknown; message?: unknown; code?: unknown };
  const reason = typeof message === 'string' ? message : undefined;
  // zlib's error (Z_DATA_ERROR, Z_BUF_ERROR; brotli's ERR__…), handed on by the parser: the
  // bytes are not in the coding the request's Content-Encoding names. Its message does not
  // always reach here (the parser may hand on "Bad Request"): its code does.
  if (typeof code === 'string' && /^(Z_|ERR__)/.test(code))
    return new ProblemException({
      type: problemType('malformed-json'),
      title: 'Malformed JSON',
      status: 400,
      detail: `the body cannot be decoded from the coding its Content-Encoding names (${code})`,
    });
  if (type === 'encoding.unsupported')
    return new ProblemException(
      {
        type: problemType('unsupported-media-type'),
        title: 'Unsupported Media Type',
        status: 415,
        detail: `the body's Content-Encoding cannot be read${reason ? `: ${reason}` : ''}; send it uncompressed, or as gzip, deflate or br`,
      },
      // RFC 9110 §12.5.3: the codings it reads.
      { headers: { 'Accept-Encoding': DECODED } },
    );
  if (type === 'entity.parse.failed')
    return new ProblemException({
      type: problemType('malformed-json'),
      title: 'Malformed JSON',
      status: 400,
      detail: `the body is not valid JSON${reason ? `: ${reason}` : ''}`,
    });
  if (type === 'charset.unsupported')
    return new ProblemException({
      type: problemType('unsupported-media-type'),
      title: 'Unsupported Media Type',
      status: 415,
      // body-parser reads JSON in any UTF (utf-8, utf-16, utf-32), forms in UTF-8 or Latin-1.
      detail: `the body's charset cannot be read${reason ? `: ${reason}` : ''}`,
    });
  return undefined;
}
