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
 * parsed before the guard, as Nest's own parsers do for every route. Other routes refusing a
 * request whatever its body (an app's own admin routes elsewhere) get the same from
 * UNREAD_BODIES providers, one per module.
 */
export function parseBodies(app: INestApplication): void {
  const express = app as unknown as BodyParsingApp;
  const json = parserOf(express, 'json', { strict: false });
  const forms = parserOf(express, 'urlencoded', { extended: true });
  const unread = adminRequestWithoutToken(app);
  const own = unreadBodiesOf(app);
  // A provider that names nothing the gate can ask fails the start, not the first request.
  checkUnreadBodies(app);
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
 * The requests whose bodies parseBodies leaves unread (besides `/admin/…` without ADMIN_TOKEN):
 * those to a route that refuses them whatever the body, such as one to a route that needs a
 * credential the request does not carry (sse-gateway's `POST /api/presence/{userId}/disconnect`
 * without the admin token, command-api's commands and the gateway's `POST /api/stream-tokens`
 * without a bearer token). Its handler (or guard) answers them, its 401 whatever the body, so a caller without the credential cannot have
 * the app read and parse up to the parsers' limit, nor learn from a 400 or 413 what the route
 * would take. The handler finds `request.body` undefined and the body still in the request
 * stream; Node discards it once the answer is written.
 *
 * Each module may provide one: every module's provider is asked, so a feature module adds its
 * own without replacing another's (the embedded app has command-api's and the gateway's). One
 * module naming several kinds of request provides them as an array; anything else (a path, an
 * object holding the predicate) fails parseBodies, naming it. A provider must not throw,
 * and must name only requests its handler refuses before reading the body: a request named
 * with a body it needed reaches that handler without it.
 */
export const UNREAD_BODIES = Symbol('causeway:unread-bodies');
export type UnreadBodies = (request: IncomingMessage) => boolean;

/**
 * Whether any UNREAD_BODIES provider of the app names a request (the providers are looked up
 * at the first request, once the app's modules are built).
 */
function unreadBodiesOf(app: INestApplication): UnreadBodies {
  let named: readonly UnreadBodies[] | undefined;
  return (request) => {
    named ??= providedUnreadBodies(app);
    return named.some((unread) => unread(request));
  };
}

/**
 * Checks the app's UNREAD_BODIES providers now when its modules are built already (an app from
 * NestFactory.create or a compiled testing module): one that is neither a predicate nor an array
 * of them fails parseBodies. Otherwise the first request finds it, and every request is refused
 * (500) with that error until the provider is fixed.
 * @throws Error naming UNREAD_BODIES and what was provided
 */
function checkUnreadBodies(app: INestApplication): void {
  providedUnreadBodies(app);
}

/**
 * Every module's UNREAD_BODIES, each a predicate or an array of them.
 * @throws Error when one is neither (ADR 013): it was skipped without a word
 */
function providedUnreadBodies(app: INestApplication): readonly UnreadBodies[] {
  let provided: unknown[];
  try {
    provided = app.get<symbol, unknown[]>(UNREAD_BODIES, { strict: false, each: true });
  } catch {
    return []; // None: only `/admin/…` is left unread.
  }
  return [...new Set(provided.flat())].map((unread) => {
    if (typeof unread === 'function') return unread as UnreadBodies;
    // ADR 013: skipped, the requests it meant to name had their bodies read and parsed.
    throw new Error(
      `parseBodies: an UNREAD_BODIES provider gave ${describe(unread)}; it must be a ` +
        'function (request) => boolean, or an array of them',
    );
  });
}

/** A provided value as the error names it: its type, and what it is when short. */
function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value !== 'object') return `${typeof value} ${String(value)}`;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return `an object${typeof name === 'string' && name !== 'Object' ? ` (${name})` : ''}`;
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
