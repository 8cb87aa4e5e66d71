import { HttpException } from '@nestjs/common';
import { type ProblemDetails, ProblemException, problemType } from '@causeway/cqrs-core/nest';
import { bearerChallenge, ServerClockUnsynchronisedError } from '@causeway/platform';
import {
  BodyTooLargeError,
  CommandBacklogError,
  CommandRefusedError,
  CommandUnconfirmedError,
  IdempotencyUnavailableError,
  InvalidOrderError,
  OrderUnconfirmedError,
  StatusUnavailableError,
  ForbiddenTrainerError,
  IdempotencyConflictError,
  MalformedJsonError,
  NotFoundError,
  RateLimitedError,
  UnauthenticatedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from './command-api.errors';

/** A problem document plus the headers that go with it (Retry-After, WWW-Authenticate). */
export interface ProblemAnswer {
  status: number;
  problem: ProblemDetails;
  headers: Record<string, string>;
  /** Metric label of the outcome. */
  outcome: string;
}

/** Maps any error to an RFC 9457 problem; unexpected errors become a 500 without internals. */
export function toProblem(error: unknown): ProblemAnswer {
  const problem = (
    status: number,
    slug: string,
    title: string,
    detail: string,
    extra: Partial<ProblemAnswer> & { fields?: object } = {},
  ): ProblemAnswer => ({
    status,
    problem: {
      type: slug === 'about:blank' ? slug : problemType(slug),
      title,
      status,
      detail,
      ...(extra.fields ?? {}),
    },
    headers: extra.headers ?? {},
    outcome: extra.outcome ?? slug,
  });
  if (error instanceof MalformedJsonError)
    return problem(400, 'malformed-json', 'Malformed JSON', error.message);
  if (error instanceof UnauthenticatedError)
    return problem(401, 'unauthenticated', 'Unauthorized', error.message, {
      headers: {
        'WWW-Authenticate': bearerChallenge(error.reason === 'missing' ? undefined : error.reason),
      },
      fields: { reason: error.reason },
    });
  if (error instanceof ForbiddenTrainerError)
    return problem(403, 'forbidden-trainer', 'Forbidden', error.message, {
      fields: { trainerId: error.trainerId },
    });
  if (error instanceof NotFoundError) return problem(404, 'not-found', 'Not Found', error.message);
  // Reused with another request: 422, as draft-ietf-httpapi-idempotency-key-header says (a
  // lasting refusal: the request cannot succeed under this key), 409 only while in flight.
  if (error instanceof IdempotencyConflictError && error.reason === 'mismatch')
    return problem(422, 'idempotency-key-reused', 'Unprocessable Content', error.message, {
      fields: { reason: error.reason },
    });
  if (error instanceof IdempotencyConflictError)
    return problem(409, 'idempotency-conflict', 'Conflict', error.message, {
      fields: { reason: error.reason },
      // In flight: the first request's answer is usually there within a second.
      headers: { 'Retry-After': '1' },
    });
  if (error instanceof BodyTooLargeError)
    return problem(413, 'body-too-large', 'Content Too Large', error.message, {
      fields: { maxBytes: error.maxBytes },
    });
  if (error instanceof UnsupportedMediaTypeError)
    return problem(415, 'unsupported-media-type', 'Unsupported Media Type', error.message, {
      // RFC 9110 §12.5.3: the codings it takes, when the coding was what it refused.
      ...(error.contentEncoding !== undefined && { headers: { 'Accept-Encoding': 'identity' } }),
    });
  if (error instanceof ValidationError)
    return problem(422, 'invalid-fields', 'Unprocessable Content', error.message, {
      fields: { errors: error.errors },
    });
  if (error instanceof InvalidOrderError)
    return problem(400, 'invalid-request', 'Bad Request', error.message, {
      fields: { errors: error.errors },
    });
  if (error instanceof RateLimitedError)
    return problem(429, 'rate-limited', 'Too Many Requests', error.message, {
      headers: { 'Retry-After': String(error.retryAfterSeconds) },
    });
  if (error instanceof CommandRefusedError)
    return problem(503, 'command-refused', 'Service Unavailable', error.message, {
      headers: { 'Retry-After': '1' },
    });
  if (error instanceof CommandBacklogError)
    return problem(503, 'overloaded', 'Service Unavailable', error.message, {
      headers: { 'Retry-After': String(error.retryAfterSeconds) },
      fields: { waiting: error.waiting, max: error.max },
    });
  // This instance has not read Redis' time yet (just started): nothing was stamped or sent.
  if (error instanceof ServerClockUnsynchronisedError)
    return problem(503, 'clock-unsynchronised', 'Service Unavailable', error.message, {
      headers: { 'Retry-After': '1' },
    });
  if (error instanceof IdempotencyUnavailableError)
    return problem(503, 'idempotency-unavailable', 'Service Unavailable', error.message, {
      headers: { 'Retry-After': '1' },
    });
  if (error instanceof StatusUnavailableError)
    return problem(503, 'status-unavailable', 'Service Unavailable', error.message, {
      headers: { 'Retry-After': '1' },
    });
  if (error instanceof CommandUnconfirmedError)
    return problem(503, 'command-unconfirmed', 'Service Unavailable', error.message, {
      headers: { 'Retry-After': '1' },
      fields: { commandId: error.commandId },
    });
  if (error instanceof OrderUnconfirmedError)
    return problem(503, 'order-unconfirmed', 'Service Unavailable', error.message, {
      headers: { 'Retry-After': '1' },
      fields: { taskId: error.taskId },
    });
  // A problem made elsewhere (the admin token's refusals, adminRefusals): answered as made.
  if (error instanceof ProblemException) {
    const status = error.getStatus();
    const document = error.getResponse() as ProblemDetails;
    const slug = document.type.startsWith(problemType(''))
      ? document.type.slice(problemType('').length)
      : '';
    return {
      status,
      problem: { ...document, status },
      headers: { ...error.headers },
      outcome: slug || `http-${status}`,
    };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    return problem(status, 'about:blank', error.name.replace(/Exception$/, ''), error.message, {
      outcome: `http-${status}`,
    });
  }
  return problem(
    500,
    'internal',
    'Internal Server Error',
    'The server failed to handle the request.',
    {
      outcome: 'error',
    },
  );
}

/** JSON-RPC 2.0 error codes: the reserved ones, and ours from the server-error range. */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** The caller may not act on this trainer. */
  Forbidden: -32003,
  /** Unknown command id (or another user's). */
  NotFound: -32004,
  /**
   * The command bus refused the command (nothing was sent), too many commands wait for their
   * handler (nothing was sent: `data` has `waiting` and `max`), or the bus did not confirm it
   * (it may have been sent: `data.commandId` names it), or a store did not answer (the
   * Idempotency-Key's, a command status's), or this instance has not read the server's clock
   * yet (nothing was sent). Transient either way: retry, with the same
   * Idempotency-Key for the unconfirmed kind.
   */
  Unavailable: -32005,
} as const;

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

/**
 * Maps an error of one JSON-RPC call to its error object; unexpected errors become -32603. The
 * errors of the whole HTTP request (401, 429, 409 / 422 of the Idempotency-Key, 413, 415, 503
 * `idempotency-unavailable`) never come here: the body reader, CallerGate and IdempotencyGate
 * throw them around the calls, and they are answered as problems by toProblem.
 */
export function toJsonRpcError(error: unknown): JsonRpcError {
  if (error instanceof ValidationError)
    return {
      code: JsonRpcCode.InvalidParams,
      message: `Invalid params: ${error.message}`,
      data: { errors: error.errors },
    };
  if (error instanceof ForbiddenTrainerError)
    return {
      code: JsonRpcCode.Forbidden,
      message: error.message,
      data: { trainerId: error.trainerId },
    };
  if (error instanceof NotFoundError) return { code: JsonRpcCode.NotFound, message: error.message };
  if (
    error instanceof CommandRefusedError ||
    error instanceof IdempotencyUnavailableError ||
    error instanceof StatusUnavailableError ||
    error instanceof ServerClockUnsynchronisedError
  )
    return { code: JsonRpcCode.Unavailable, message: error.message };
  if (error instanceof CommandBacklogError)
    return {
      code: JsonRpcCode.Unavailable,
      message: error.message,
      data: { waiting: error.waiting, max: error.max },
    };
  if (error instanceof CommandUnconfirmedError)
    return {
      code: JsonRpcCode.Unavailable,
      message: error.message,
      data: { commandId: error.commandId },
    };
  return { code: JsonRpcCode.InternalError, message: 'Internal error' };
}
