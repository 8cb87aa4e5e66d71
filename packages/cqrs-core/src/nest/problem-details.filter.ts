import { STATUS_CODES } from 'node:http';
import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  HttpStatus,
} from '@nestjs/common';
import { echoedPath } from './log.redaction';

interface HttpResponseLike {
  status(code: number): HttpResponseLike;
  setHeader(name: string, value: string): void;
  send(body: string): void;
}

/** An RFC 9457 problem details document. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** Which inputs were wrong and why (400/422). */
  errors?: { field: string; problem: string }[];
  [extension: string]: unknown;
}

/** Thrown by handlers to answer with a problem document. */
export class ProblemException extends HttpException {
  constructor(problem: Omit<ProblemDetails, 'type'> & { type?: string }) {
    super({ type: 'about:blank', ...problem }, problem.status as number);
  }
}

/**
 * Every HTTP error becomes `application/problem+json` (RFC 9457) in one place; unexpected
 * errors are 500 without internals (the log has them). `instance` is the request's path (its first
 * 256 characters): its query string may hold a credential (`?token=`), which an error document
 * never echoes.
 * CausewayServiceModule installs it for the whole app, unknown routes included.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    // Installed app-wide, it also sees message handlers (a transport strategy): their errors go
    // back, unchanged, to the transport, which retries or dead-letters them.
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const response = http.getResponse<HttpResponseLike>();
    const request = http.getRequest<{ url?: string }>();
    const problem = toProblem(exception);
    const path = echoedPath(request.url);
    problem.instance ??= path;
    // Nest's 404 names the whole target ("Cannot GET /a?token=…"): name the (bounded) path only.
    if (request.url && problem.detail?.includes(request.url))
      problem.detail = problem.detail.split(request.url).join(path);
    if (problem.status === HttpStatus.UNAUTHORIZED)
      response.setHeader('WWW-Authenticate', 'Bearer');
    response.setHeader('Content-Type', 'application/problem+json');
    response.status(problem.status).send(JSON.stringify(problem));
  }
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
