import { type TokenRefusal } from '@causeway/platform';
/** One wrong input: which field (dotted path, or a header name) and what is wrong with it. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * Everything command-api refuses, as types. `error.mapping.ts` turns each into an RFC 9457
 * problem (REST, transport-level errors of /rpc) or a JSON-RPC error (per call) — in one place.
 */
export abstract class CommandApiError extends Error {
  abstract readonly kind: string;
}

/** At most `max` characters of client input, for a message; longer input is cut with "…". */
export function clip(input: string, max = 64): string {
  return input.length <= max ? input : `${input.slice(0, max)}…`;
}

export class MalformedJsonError extends CommandApiError {
  readonly kind = 'malformed';
  constructor(readonly reason: string) {
    super(`the request body is not valid JSON: ${clip(reason, 200)}`);
    this.name = 'MalformedJsonError';
  }
}

/**
 * The body is not JSON in UTF-8 (its `contentType`), or comes in a content coding command-api
 * does not decode (`contentEncoding`, e.g. gzip: RFC 9110 §15.5.16).
 */
export class UnsupportedMediaTypeError extends CommandApiError {
  readonly kind = 'unsupported-media-type';
  constructor(
    readonly contentType: string | undefined,
    readonly contentEncoding?: string,
  ) {
    // The headers are client input: a bounded prefix of them at most goes back in the answer.
    super(
      contentEncoding !== undefined
        ? `Content-Encoding "${clip(contentEncoding)}" is not supported: send the body uncompressed (identity)`
        : `Content-Type must be application/json (in UTF-8), not ${contentType ? `"${clip(contentType)}"` : 'missing'}`,
    );
    this.name = 'UnsupportedMediaTypeError';
  }
}

export class BodyTooLargeError extends CommandApiError {
  readonly kind = 'too-large';
  constructor(readonly maxBytes: number) {
    super(`the request body exceeds ${maxBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

export class UnauthenticatedError extends CommandApiError {
  readonly kind = 'unauthenticated';
  constructor(
    detail: string,
    /** `missing`: no token sent; `expired` / `invalid`: the token sent was refused. */
    readonly reason: 'missing' | TokenRefusal = 'missing',
  ) {
    super(detail);
    this.name = 'UnauthenticatedError';
  }
}

/** What a caller asked a trainer to do: move, or join or leave a group. */
export type TrainerAct = 'move' | { action: 'join' | 'leave'; groupId: string };

/**
 * The caller may not command this trainer (TokenService.mayMove). The message names what was
 * refused — a move, or joining or leaving which group — so that a refused join does not read
 * as a refused move.
 */
export class ForbiddenTrainerError extends CommandApiError {
  readonly kind = 'forbidden';
  constructor(
    readonly userId: string,
    readonly trainerId: string,
    act: TrainerAct = 'move',
  ) {
    super(
      act === 'move'
        ? `user "${userId}" may not move trainer "${trainerId}"`
        : `user "${userId}" may not make trainer "${trainerId}" ${act.action} group "${act.groupId}"`,
    );
    this.name = 'ForbiddenTrainerError';
  }
}

/** Invalid fields; `errors` names each. */
export class ValidationError extends CommandApiError {
  readonly kind = 'invalid';
  constructor(readonly errors: readonly FieldError[]) {
    super(errors.map((error) => `${error.field}: ${error.message}`).join('; '));
    this.name = 'ValidationError';
  }
}

/** Unknown id — or another user's: the two are indistinguishable on purpose. */
export class NotFoundError extends CommandApiError {
  readonly kind = 'not-found';
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/**
 * The Idempotency-Key cannot serve this request: it was used for another one (`mismatch`:
 * 422 `idempotency-key-reused`, for good) or its first request is still running (`in-flight`:
 * 409 `idempotency-conflict`, retry after `Retry-After`).
 */
export class IdempotencyConflictError extends CommandApiError {
  readonly kind = 'conflict';
  constructor(readonly reason: 'mismatch' | 'in-flight') {
    super(
      reason === 'mismatch'
        ? 'this Idempotency-Key was already used with a different request'
        : 'a request with this Idempotency-Key is still being processed; retry later',
    );
    this.name = 'IdempotencyConflictError';
  }
}

export class RateLimitedError extends CommandApiError {
  readonly kind = 'rate-limited';
  constructor(readonly retryAfterSeconds: number) {
    super(`too many requests; retry in ${retryAfterSeconds} s`);
    this.name = 'RateLimitedError';
  }
}

/** The bus refused the command before sending it: nothing was sent, a retry is safe. */
export class CommandRefusedError extends CommandApiError {
  readonly kind = 'unavailable';
  constructor(readonly commandType: string) {
    super(`the command bus did not accept the ${commandType}; nothing was sent, retry later`);
    this.name = 'CommandRefusedError';
  }
}

/**
 * More commands of the topic wait for their handler than COMMAND_BACKLOG_MAX (CommandBacklog):
 * nothing was sent, a retry after `retryAfterSeconds` is safe.
 */
export class CommandBacklogError extends CommandApiError {
  readonly kind = 'overloaded';
  constructor(
    readonly waiting: number,
    readonly max: number,
    readonly retryAfterSeconds: number,
  ) {
    super(
      `${waiting} commands are waiting to be handled, more than the ${max} accepted at most; ` +
        `nothing was sent, retry in ${retryAfterSeconds} s`,
    );
    this.name = 'CommandBacklogError';
  }
}

/**
 * The Idempotency-Key could not be checked (its store did not answer): nothing was sent, a
 * retry with the same key is safe.
 */
export class IdempotencyUnavailableError extends CommandApiError {
  readonly kind = 'unavailable';
  constructor() {
    super(
      'the Idempotency-Key could not be checked (its store is unavailable); nothing was sent, retry later with the same key',
    );
    this.name = 'IdempotencyUnavailableError';
  }
}

/** A command's status could not be read (its store did not answer): retry later. */
export class StatusUnavailableError extends CommandApiError {
  readonly kind = 'unavailable';
  constructor() {
    super('the command status could not be read (its store is unavailable); retry later');
    this.name = 'StatusUnavailableError';
  }
}

/**
 * The bus did not confirm the command (e.g. the broker's reply timed out): it may have been
 * sent and may still be executed. A retry with the same Idempotency-Key is the same command
 * (same id) and takes effect at most once; `commandId` can be looked up meanwhile.
 */
export class CommandUnconfirmedError extends CommandApiError {
  readonly kind = 'unconfirmed';
  constructor(
    readonly commandType: string,
    readonly commandId: string,
    /** Whether the request carried an Idempotency-Key (then a retry with it is the same command). */
    keyed = false,
  ) {
    super(
      `the command bus did not confirm the ${commandType} ${commandId}; it may or may not have been sent: ` +
        (keyed
          ? `see GET /api/commands/${commandId}, or retry with the same Idempotency-Key (the same command, executed at most once)`
          : `see GET /api/commands/${commandId} before retrying (this request had no Idempotency-Key: a retry is a new command and may execute it twice)`),
    );
    this.name = 'CommandUnconfirmedError';
  }
}

/**
 * The body of `POST /api/v2/progress/orders` is not a PlaceOrderRequest: 400 naming each wrong
 * field (ADR 015: an order is a request, not a command on a resource, so its bad input is a
 * plain bad request); nothing was published.
 */
export class InvalidOrderError extends CommandApiError {
  readonly kind = 'invalid-order';
  constructor(readonly errors: readonly FieldError[]) {
    super(errors.map((error) => `${error.field}: ${error.message}`).join('; '));
    this.name = 'InvalidOrderError';
  }
}

/**
 * Kafka did not acknowledge the order within the publish timeout (unreachable, no leader):
 * it may or may not have been written. A retry with the same Idempotency-Key publishes the same
 * task again (the order consumer runs a task once); without one, `taskId` can be looked up first.
 * The message is answered to the caller, so it never includes `reason`, the client's error,
 * which can name broker hosts and ports: that goes to the intake's warning log.
 */
export class OrderUnconfirmedError extends CommandApiError {
  readonly kind = 'unconfirmed';
  constructor(
    readonly taskId: string,
    readonly reason: string,
    keyed = false,
  ) {
    super(
      `Kafka did not acknowledge the order for task ${taskId} in time; it may or may not have been placed: ` +
        (keyed
          ? 'retry with the same Idempotency-Key (the same task, run at most once)'
          : `see GET /api/v2/progress/status/${taskId} before retrying (this request had no Idempotency-Key: a retry is a new order)`),
    );
    this.name = 'OrderUnconfirmedError';
  }
}
