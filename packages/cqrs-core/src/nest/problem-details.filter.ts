import { METHODS, STATUS_CODES } from 'node:http';
import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  HttpStatus,
  NotFoundException,
} from '@nestjs/common';
import { echoedPath } from './log.redaction';

interface HttpResponseLike {
  status(code: number): HttpResponseLike;
  setHeader(name: string, value: string): void;
  send(body: string | Buffer): void;
}

/** What the filter reads of a request: Express's, when the app runs on Express. */
interface HttpRequestLike {
  url?: string;
  method?: string;
  app?: { router?: { stack?: RouterLayer[] } };
}

/** A layer of Express's router (router 2): a route's layer has `route`. */
interface RouterLayer {
  route?: { methods?: Record<string, boolean> };
  match?(path: string): unknown;
}

/**
 * The problem `type` of a condition every app answers alike (`unauthenticated`, `rate-limited`,
 * …): one URI per condition, whichever app answers. Not dereferenceable (yet): an identifier.
 */
export function problemType(slug: string): string {
  return `https://causeway.dev/problems/${slug}`;
}

/** The `WWW-Authenticate` challenge of every 401 (command-api's own answers have the same). */
export const WWW_AUTHENTICATE = 'Bearer realm="causeway"';

/** One wrong input: which field (dotted path, or a header / parameter name) and what is wrong. */
export interface ProblemFieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem details document. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** Which inputs were wrong and why (400/422). */
  errors?: ProblemFieldError[];
  [extension: string]: unknown;
}

/** JSON Schema of ProblemDetails, for OpenAPI documents (`components.schemas.Problem`). */
export const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
};

/** Thrown by handlers to answer with a problem document. */
export class ProblemException extends HttpException {
  /**
   * Headers of the answer, set before the filter's own. A 401's `WWW-Authenticate` given here
   * replaces the default challenge (e.g. with RFC 6750's `error="invalid_token"`).
   */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    problem: Omit<ProblemDetails, 'type'> & { type?: string },
    options: { headers?: Readonly<Record<string, string>> } = {},
  ) {
    super({ type: 'about:blank', ...problem }, problem.status as number);
    this.headers = options.headers ?? {};
  }
}

/**
 * Every HTTP error becomes `application/problem+json` (RFC 9457) in one place; unexpected
 * errors are 500 without internals (the log has them). `instance` is the request's path (its first
 * 256 characters): its query string may hold a credential (`?token=`), which an error document
 * never echoes.
 * CausewayServiceModule installs it for the whole app, unknown routes included: a known path
 * requested with a method it does not serve is a 405 with `Allow` (RFC 9110 §15.5.6), an unknown
 * path a 404. 401s carry `WWW-Authenticate` (WWW_AUTHENTICATE).
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    // Installed app-wide, it also sees message handlers (a transport strategy): their errors go
    // back, unchanged, to the transport, which retries or dead-letters them.
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const response = http.getResponse<HttpResponseLike>();
    const request = http.getRequest<HttpRequestLike>();
    const routes = routeNotFound(exception, request) ? allowedMethods(request) : undefined;
    // A route of the request's own method exists, yet Nest found none: not a method problem
    // (a version that does not match, middleware mounted for a path no controller serves).
    const allowed = routes?.includes(request.method!.toUpperCase()) ? undefined : routes;
    const problem: ProblemDetails = allowed
      ? methodNotAllowed(request.method!, echoedPath(request.url), allowed)
      : toProblem(exception);
    const path = echoedPath(request.url);
    problem.instance ??= path;
    // Nest's 404 names the whole target ("Cannot GET /a?token=…"): name the (bounded) path only.
    if (request.url && problem.detail?.includes(request.url))
      problem.detail = problem.detail.split(request.url).join(path);
    const headers = exception instanceof ProblemException ? exception.headers : {};
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    if (problem.status === HttpStatus.UNAUTHORIZED && !hasHeader(headers, 'www-authenticate'))
      response.setHeader('WWW-Authenticate', WWW_AUTHENTICATE);
    if (allowed) response.setHeader('Allow', allowed.join(', '));
    response.setHeader('Content-Type', 'application/problem+json');
    // A Buffer: Express would add "; charset=utf-8" to the type of a string (JSON is UTF-8 anyway).
    response.status(problem.status).send(Buffer.from(JSON.stringify(problem)));
  }
}

function hasHeader(headers: Readonly<Record<string, string>>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

/** Nest's answer to a request no route took: `Cannot <METHOD> <url>` (RoutesResolver). */
function routeNotFound(exception: unknown, request: HttpRequestLike): boolean {
  return (
    exception instanceof NotFoundException &&
    request.method !== undefined &&
    exception.message === `Cannot ${request.method} ${request.url}`
  );
}

/**
 * The methods Express's routes serve at the request's path (GET implies HEAD, as Express
 * answers it), or undefined when none does: then the path is unknown. A route of every method is
 * middleware Nest applies to all routes (`forRoutes('*')`, e.g. pino-http's), not an endpoint.
 */
function allowedMethods(request: HttpRequestLike): string[] | undefined {
  const url = request.url ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const methods = new Set<string>();
  for (const layer of request.app?.router?.stack ?? []) {
    const routeMethods = layer.route?.methods;
    if (!routeMethods || routeMethods._all || typeof layer.match !== 'function') continue;
    const served = Object.keys(routeMethods).filter((method) => routeMethods[method]);
    if (served.length >= METHODS.length || !layer.match(path)) continue;
    for (const method of served) methods.add(method.toUpperCase());
  }
  if (methods.has('GET')) methods.add('HEAD');
  return methods.size > 0 ? [...methods].sort() : undefined;
}

function methodNotAllowed(
  method: string,
  path: string | undefined,
  allowed: string[],
): ProblemDetails {
  return {
    type: 'about:blank',
    title: 'Method Not Allowed',
    status: HttpStatus.METHOD_NOT_ALLOWED,
    detail: `${path ?? 'this path'} does not serve ${method.slice(0, 16)}; it serves ${allowed.join(', ')}`,
  };
}

function toProblem(exception: unknown): ProblemDetails {
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const body = exception.getResponse();
    if (typeof body === 'object' && body !== null && 'title' in body) {
      return {
        type: 'about:blank',
        ...(body as Omit<ProblemDetails, 'status'>),
        status,
      } as ProblemDetails;
    }
    const detail =
      typeof body === 'string'
        ? body
        : ((body as { message?: unknown }).message ?? exception.message);
    return {
      type: 'about:blank',
      title: exception.name.replace(/Exception$/, '').replace(/([a-z])([A-Z])/g, '$1 $2'),
      status,
      detail: Array.isArray(detail) ? detail.join('; ') : String(detail),
    };
  }
  // Client errors of Express's middleware (http-errors: a body too large, malformed JSON, …).
  const status = clientErrorStatus(exception);
  if (status !== undefined) {
    const { message, expose } = exception as { message?: unknown; expose?: unknown };
    return {
      type: 'about:blank',
      title: STATUS_CODES[status] ?? 'Bad Request',
      status,
      detail: expose === true && typeof message === 'string' ? message : STATUS_CODES[status],
    };
  }
  return {
    type: 'about:blank',
    title: 'Internal Server Error',
    status: 500,
    detail: 'The server failed to handle the request.',
  };
}

function clientErrorStatus(exception: unknown): number | undefined {
  if (typeof exception !== 'object' || exception === null) return undefined;
  const { status, statusCode } = exception as { status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  return typeof code === 'number' && code >= 400 && code < 500 ? code : undefined;
}
