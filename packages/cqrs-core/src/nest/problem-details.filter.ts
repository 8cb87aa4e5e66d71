import { METHODS, STATUS_CODES } from 'node:http';
import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  HttpStatus,
  Inject,
  Logger,
  NotFoundException,
  Optional,
} from '@nestjs/common';
import {
  CommandBusClosedError,
  CommandExpiredError,
  CommandRejectedError,
  CommandTimeoutError,
} from '../buses/bus.errors';
import {
  ConcurrencyConflictError,
  StreamDeletedError,
  StreamNotFoundError,
} from '../event-store/event-store.errors';
import { DomainError } from '../router/handler.errors';
import { credentialsRemoved } from '../connections/connection-target';
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
  /** The request's id, as pino-http's genReqId set it (CausewayServiceModule). */
  id?: unknown;
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

/**
 * JSON Schema of ProblemDetails, for OpenAPI documents (`components.schemas.Problem`): the
 * standard members and every extension member the library and the reference apps answer with
 * (docs/problems.md says which `type` carries which). Others may come: a client ignores them.
 */
export const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status'],
  additionalProperties: true,
  properties: {
    type: {
      type: 'string',
      description:
        'The problem, `https://causeway.dev/problems/<name>` or `about:blank`: match on it in code',
    },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string', description: 'What was wrong, for people' },
    instance: { type: 'string', description: 'The request path (never its query)' },
    errors: {
      type: 'array',
      description: 'Which inputs were wrong and why (400 `invalid-request`, 422 `invalid-fields`)',
      items: {
        type: 'object',
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
    reason: {
      type: 'string',
      enum: ['missing', 'expired', 'invalid', 'mismatch', 'in-flight'],
      description:
        '401 `unauthenticated`: `missing` (no credential sent), `expired` or `invalid`; ' +
        '422 `idempotency-key-reused`: `mismatch` (the key was used for another request); ' +
        '409 `idempotency-conflict`: `in-flight` (its first request is still running: retry ' +
        'after `Retry-After`)',
    },
    trainerId: {
      type: 'string',
      description: '403 `forbidden-trainer`: the trainer the caller may not command',
    },
    maxBytes: { type: 'integer', description: '413 `body-too-large`: the limit, in bytes' },
    waiting: {
      type: 'integer',
      description: '503 `overloaded`: commands waiting for their handler',
    },
    max: { type: 'integer', description: '503 `overloaded`: the most that may wait' },
    commandId: {
      type: 'string',
      description:
        'The command concerned: 503 `command-unconfirmed` (it may have been sent: its status ' +
        'stays `accepted` until processed) and `shutting-down`, 504 `command-timeout` and ' +
        '`command-expired`',
    },
    sent: {
      type: 'boolean',
      description:
        '504 `command-timeout`, 503 `shutting-down`: false = never sent, true = it may still be ' +
        'handled',
    },
    deadline: {
      type: 'string',
      format: 'date-time',
      description: "504 `command-expired`: the command's deadline, which passed before it ran",
    },
    code: {
      type: 'string',
      description: "`domain-rejected`: the business rule's stable reason, to branch on",
    },
    details: {
      type: 'object',
      additionalProperties: true,
      description: '`domain-rejected`: what the business rule said about the refusal (JSON)',
    },
    streamId: {
      type: 'string',
      description: '`concurrency-conflict`, `stream-deleted`, `stream-not-found`: the stream',
    },
    expectedVersion: {
      oneOf: [{ type: 'integer' }, { type: 'string', enum: ['any', 'no-stream', 'exists'] }],
      description: '409 `concurrency-conflict`: the version the write expected',
    },
    actualVersion: {
      type: 'integer',
      description: '409 `concurrency-conflict`: the version the stream is at',
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

/** ProblemDetailsFilter's options: `new ProblemDetailsFilter(options)`, PROBLEM_DETAILS_OPTIONS. */
export interface ProblemDetailsFilterOptions {
  /**
   * The app's own mapping, asked first for every error of an HTTP request (whatever was thrown:
   * not only Errors; HttpExceptions too), except a method a known path does not serve (405).
   * Return the problem document to answer with, or undefined to leave the error to the
   * filter's mapping (HttpExceptions, client errors, the library's errors, else a bare 500).
   * - `status` must be an integer from 400 to 599: a document without one is ignored, as is a
   *   map that throws, and the filter's mapping answers (the answer never depends on a bug).
   * - The document is sent as returned (a copy), `instance` the request's path when it has none.
   *   A ProblemException's headers are still sent, and a 401's `WWW-Authenticate`.
   * - Everything in it reaches the caller: never put the message of an error you do not know in
   *   `detail`, nor internals in an extension member. Its members must be JSON (else: 500).
   * - Called synchronously, once per error: keep it cheap and free of side effects.
   */
  map?: (error: unknown) => ProblemDetails | undefined;
}

/**
 * The options of the filters Nest makes (CausewayServiceModule's app-wide one, `@UseFilters(
 * ProblemDetailsFilter)`): provide it from a global module, e.g.
 * `@Global() @Module({ providers: [{ provide: PROBLEM_DETAILS_OPTIONS, useValue: { map } }],
 * exports: [PROBLEM_DETAILS_OPTIONS] })`. Without it they map as the filter does by default.
 */
export const PROBLEM_DETAILS_OPTIONS = Symbol('causeway:problem-details-options');

/**
 * Every HTTP error becomes `application/problem+json` (RFC 9457) in one place; unexpected
 * errors are 500 without internals (the log has them: every 5xx answer to an error that is not
 * an HttpException is logged at error level with its cause, its stack and the request's method,
 * path and id). The library's own errors have their
 * status (see `libraryProblem`): a DomainError — in process, or a command handler's, as the
 * CommandRejectedError of `CommandBus.request` — 422 (or its own 4xx `status`) with its
 * message, `code` and `details`; a ConcurrencyConflictError 409; a CommandTimeoutError or
 * CommandExpiredError 504; a CommandBusClosedError (the app is shutting down) 503 with
 * `Retry-After` and `Connection: close`; a StreamDeletedError 410; a StreamNotFoundError 404. Their `type`s
 * are `problemType(…)`s; `options.map` maps errors of the app's own (or differently).
 * `instance` is the request's path (its first 256 characters): its query string may hold a
 * credential (`?token=`), which an error document never echoes.
 * CausewayServiceModule installs it for the whole app, unknown routes included: a known path
 * requested with a method it does not serve is a 405 with `Allow` (RFC 9110 §15.5.6), an unknown
 * path a 404. 401s carry `WWW-Authenticate` (WWW_AUTHENTICATE).
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly map: ProblemDetailsFilterOptions['map'];
  private readonly logger = new Logger(ProblemDetailsFilter.name);

  constructor(
    @Optional() @Inject(PROBLEM_DETAILS_OPTIONS) options: ProblemDetailsFilterOptions = {},
  ) {
    this.map = options?.map;
  }

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
      : (this.mapped(exception) ?? toProblem(exception));
    const path = echoedPath(request.url);
    problem.instance ??= path;
    // Nest's 404 names the whole target ("Cannot GET /a?token=…"): name the (bounded) path only.
    if (request.url && typeof problem.detail === 'string' && problem.detail.includes(request.url))
      problem.detail = problem.detail.split(request.url).join(path);
    const headers = exception instanceof ProblemException ? exception.headers : {};
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    if (problem.status === HttpStatus.UNAUTHORIZED && !hasHeader(headers, 'www-authenticate'))
      response.setHeader('WWW-Authenticate', WWW_AUTHENTICATE);
    if (allowed) response.setHeader('Allow', allowed.join(', '));
    // This instance is shutting down: the client retries on a connection of its own, which a
    // load balancer gives to another instance (this one's keep-alive connection would not).
    if (problem.type === SHUTTING_DOWN) {
      response.setHeader('Retry-After', '1');
      response.setHeader('Connection', 'close');
    }
    response.setHeader('Content-Type', 'application/problem+json');
    let status = problem.status;
    let body: string;
    try {
      body = JSON.stringify(problem);
    } catch {
      // Not JSON (a BigInt, a cycle in a mapped document): the bare answer instead.
      status = INTERNAL.status;
      body = JSON.stringify({ ...INTERNAL, instance: problem.instance });
    }
    // A Buffer: Express would add "; charset=utf-8" to the type of a string (JSON is UTF-8 anyway).
    response.status(status).send(Buffer.from(body));
    // A 5xx the app answered on purpose (an HttpException, e.g. 503 not-ready during an outage)
    // is told by the request's own log line, as is the shutdown's; an error nobody expected
    // needs its stack.
    if (status >= 500 && !(exception instanceof HttpException) && problem.type !== SHUTTING_DOWN)
      this.logCause(exception, request, status);
  }

  /**
   * The cause of a 5xx, which the answer does not tell: error level, with its stack and the
   * request's method, path (no query: it may hold a credential) and id — never its body or
   * headers, nor the user info of a URL the error quotes. pino-http's own line for the request
   * only says "failed with status code 500".
   */
  private logCause(exception: unknown, request: HttpRequestLike, status: number): void {
    const id = typeof request.id === 'string' || typeof request.id === 'number' ? request.id : '';
    const method = (request.method ?? '').slice(0, 16);
    // A driver's error may quote its connection string: no URL's user and password (the
    // stack begins with the message).
    const cause =
      exception instanceof Error
        ? credentialsRemoved(`${exception.name}: ${exception.message}`)
        : `a thrown ${typeof exception}`;
    const stack =
      exception instanceof Error && exception.stack !== undefined
        ? credentialsRemoved(exception.stack)
        : undefined;
    // (message, stack): Nest's contract for an error's trace; nestjs-pino logs it as `err`.
    this.logger.error(
      `${method} ${echoedPath(request.url) ?? ''} answered ${status}` +
        `${id === '' ? '' : ` (request ${id})`}: ${cause}`,
      stack,
    );
  }

  /** options.map's document (a copy: the filter completes it), unless it has none or fails. */
  private mapped(exception: unknown): ProblemDetails | undefined {
    if (!this.map) return undefined;
    let problem: ProblemDetails | undefined;
    try {
      problem = this.map(exception);
    } catch {
      return undefined;
    }
    if (typeof problem !== 'object' || problem === null) return undefined;
    const { status } = problem;
    if (!Number.isInteger(status) || status < 400 || status > 599) return undefined;
    return { ...problem };
  }
}

/** The problem type of a request the app's graceful shutdown cut short (CommandBusClosedError). */
const SHUTTING_DOWN = problemType('shutting-down');

/** The answer to what the filter does not know: no internals (the log has them). */
const INTERNAL: Readonly<ProblemDetails> = {
  type: 'about:blank',
  title: 'Internal Server Error',
  status: 500,
  detail: 'The server failed to handle the request.',
};

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
  const known = libraryProblem(exception);
  if (known) return known;
  // Client errors of Express's middleware (http-errors: a body too large, malformed JSON, …),
  // which say whether their message may be shown (`expose`). Not any error with a `status`: an
  // HTTP client's for another service's answer (axios) was answered as the caller's own 401 or
  // 404, and never logged.
  const status =
    typeof (exception as { expose?: unknown } | null)?.expose === 'boolean'
      ? clientErrorStatus(exception)
      : undefined;
  if (status !== undefined) {
    const { message, expose, type, limit } = exception as {
      message?: unknown;
      expose?: unknown;
      type?: unknown;
      limit?: unknown;
    };
    const detail = expose === true && typeof message === 'string' ? message : STATUS_CODES[status];
    // A body too large: the problem command-api's own body reader answers with.
    if (type === 'entity.too.large')
      return {
        type: problemType('body-too-large'),
        title: 'Content Too Large',
        status,
        detail,
        ...(typeof limit === 'number' && { maxBytes: limit }),
      };
    return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Bad Request', status, detail };
  }
  return { ...INTERNAL };
}

/**
 * The problem of one of the library's errors that reached a controller, or undefined for any
 * other. `problemType` names each (docs/problems.md lists them).
 */
function libraryProblem(error: unknown): ProblemDetails | undefined {
  // A business rule refused the request: its message, code and details were written for the
  // caller (DomainErrorOptions); its `cause` stays here.
  if (error instanceof DomainError) return refused(error);
  // A CommandRejectedError (and so its subclass): its deadline passed before its handler ran.
  if (error instanceof CommandExpiredError)
    return {
      type: problemType('command-expired'),
      title: 'Gateway Timeout',
      status: HttpStatus.GATEWAY_TIMEOUT,
      detail:
        'The command was not handled before its deadline, and never will be: ' +
        'retrying it is safe.',
      commandId: error.commandId,
      deadline: error.deadline,
    };
  if (error instanceof CommandRejectedError)
    // A failure dead-lettered by the handling side comes back as one too (remoteName
    // 'PermanentError', 'TypeError', …, its message maybe a driver's): not the caller's to read.
    return isRefusal(error) ? refused(error) : undefined;
  if (error instanceof ConcurrencyConflictError)
    return {
      type: problemType('concurrency-conflict'),
      title: 'Conflict',
      status: HttpStatus.CONFLICT,
      detail:
        `${error.streamId} changed since it was read (expected version ` +
        `${String(error.expected)}, it is at ${error.actual}): reload it and retry.`,
      streamId: error.streamId,
      expectedVersion: error.expected,
      actualVersion: error.actual,
    };
  if (error instanceof CommandTimeoutError)
    return {
      type: problemType('command-timeout'),
      title: 'Gateway Timeout',
      status: HttpStatus.GATEWAY_TIMEOUT,
      detail: error.sent
        ? 'No reply to the command came in time. It was sent and may still be handled: ' +
          'a retry may have it handled twice.'
        : 'The command was not sent (its reply could not be awaited in time): retrying it is safe.',
      commandId: error.commandId,
      sent: error.sent,
    };
  // The app is shutting down (its command bus closed): a 500 told the client nothing, while the
  // request can be retried on another instance — at once when nothing was sent.
  if (error instanceof CommandBusClosedError)
    return {
      type: SHUTTING_DOWN,
      title: 'Service Unavailable',
      status: HttpStatus.SERVICE_UNAVAILABLE,
      detail: error.sent
        ? 'This instance is shutting down and stopped waiting for the reply to the command. It ' +
          'was sent and may still be handled: look up its outcome before sending it again.'
        : 'This instance is shutting down: the command was not sent, retrying it is safe.',
      commandId: error.commandId,
      sent: error.sent,
    };
  // 410 rather than 404: the stream was tombstoned, which the event store never undoes — it can
  // never be written again (RFC 9110 §15.5.11: gone, and likely for good), so a client should
  // drop the resource rather than retry or create it anew under that id.
  if (error instanceof StreamDeletedError)
    return {
      type: problemType('stream-deleted'),
      title: 'Gone',
      status: HttpStatus.GONE,
      detail: `${error.streamId} was deleted for good.`,
      streamId: error.streamId,
    };
  // The stream has no events (never written, or soft-deleted): nothing to act on — yet.
  if (error instanceof StreamNotFoundError)
    return {
      type: problemType('stream-not-found'),
      title: 'Not Found',
      status: HttpStatus.NOT_FOUND,
      detail: `${error.streamId} does not exist.`,
      streamId: error.streamId,
    };
  return undefined;
}

/**
 * Whether a CommandRejectedError is a handler's DomainError (`refused`), not a failure the
 * handling side dead-lettered (a bare 500: its message may be internal). A reply of a release
 * that did not say `refused` is judged by what only a DomainError's reply carries: `code` or
 * `details`, or the name 'DomainError'.
 */
function isRefusal(error: CommandRejectedError): boolean {
  return (
    error.refused ||
    error.code !== undefined ||
    error.details !== undefined ||
    error.remoteName === 'DomainError'
  );
}

/** A DomainError's problem: 422, or the client-error `status` it has of its own. */
function refused(error: DomainError | CommandRejectedError): ProblemDetails {
  const status = clientErrorStatus(error) ?? HttpStatus.UNPROCESSABLE_ENTITY;
  const details = error.details !== undefined && isJson(error.details) ? error.details : undefined;
  return {
    type: problemType('domain-rejected'),
    // RFC 9110's name of 422 (Node's STATUS_CODES has the former one, "Unprocessable Entity").
    title: status === 422 ? 'Unprocessable Content' : (STATUS_CODES[status] ?? 'Bad Request'),
    status,
    detail: error.message,
    ...(error.code !== undefined && { code: error.code }),
    ...(details !== undefined && { details }),
  };
}

/** Whether a value can be sent as JSON (a DomainError's details should be; a BigInt is not). */
function isJson(value: unknown): boolean {
  try {
    JSON.stringify(value);
    return true;
  } catch {
    return false;
  }
}

function clientErrorStatus(exception: unknown): number | undefined {
  if (typeof exception !== 'object' || exception === null) return undefined;
  const { status, statusCode } = exception as { status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  return typeof code === 'number' && code >= 400 && code < 500 ? code : undefined;
}
