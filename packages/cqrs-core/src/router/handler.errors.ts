/**
 * An error that retrying cannot fix (invalid command, unknown aggregate, business rule):
 * the retry middleware gives up at once and the message is dead-lettered.
 */
export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/** What a DomainError may carry to the command's sender besides its message. */
export interface DomainErrorOptions {
  cause?: unknown;
  /** A stable, machine-readable reason (`'insufficient-funds'`): what callers branch on. */
  code?: string;
  /** JSON data the sender may show or act on (`{ balance: 50, amount: 80 }`). */
  details?: Readonly<Record<string, unknown>>;
}

/**
 * A business rule refused the command (insufficient funds, unknown account): its outcome, not
 * a failure. A CommandBus handler that throws one is answered at once — the sender's `request`
 * rejects with CommandRejectedError whose `remoteName` is the error's name (the subclass's
 * name unless it sets another), `message` its message, and `code` and `details` its own — and
 * the command is acknowledged: not retried, not dead-lettered. Elsewhere (an event handler) it
 * is a PermanentError: dead-lettered at once. `cause` stays on the handling side.
 */
export class DomainError extends PermanentError {
  readonly code?: string;
  readonly details?: Readonly<Record<string, unknown>>;

  constructor(message: string, options?: DomainErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options?.code !== undefined) this.code = options.code;
    if (options?.details !== undefined) this.details = options.details;
  }
}

/**
 * The message cannot be handled *now* (circuit open, duplicate in progress elsewhere,
 * shutting down): no retry in process, no dead letter; the transport redelivers it later.
 */
export class DeferredError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeferredError';
  }
}

/**
 * Whether `error` was thrown after its handler took effect (an append, a write done, then its
 * result found wrong): it carries `afterEffect: true` (CommandResultInvalidError of side
 * 'handler' does). Running the handler again would repeat the effect, so the deduplicator keeps
 * such a failure as the message's outcome instead of releasing its claim for a retry.
 */
export function failedAfterEffect(error: unknown): boolean {
  return (error as { afterEffect?: unknown } | null | undefined)?.afterEffect === true;
}

/** How a failure is treated: retried in process, dead-lettered at once, or left to the transport. */
export type ErrorDisposition = 'transient' | 'permanent' | 'deferred';

/** Default classification; pass your own to the retry middleware to mark driver errors etc. */
export function classifyError(error: unknown): ErrorDisposition {
  if (error instanceof DeferredError) return 'deferred';
  if (error instanceof PermanentError) return 'permanent';
  const name = (error as { name?: unknown } | null)?.name;
  // Validation and decoding failures never pass on a second try.
  if (
    name === 'MessageValidationError' ||
    name === 'UnknownMessageTypeError' ||
    name === 'ChecksumMismatchError'
  ) {
    return 'permanent';
  }
  return 'transient';
}

/** Thrown by the retry middleware when attempts are exhausted; `cause` is the last error. */
export class RetriesExhaustedError extends Error {
  constructor(
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(
      `gave up after ${attempts} attempts: ${(lastError as Error)?.message ?? String(lastError)}`,
      { cause: lastError },
    );
    this.name = 'RetriesExhaustedError';
  }
}

/** The attempts retry made before it gave up with an error that is not RetriesExhaustedError. */
const attemptsMade = new WeakMap<object, number>();

/**
 * Records, on the error the retry middleware gives up with (a permanent error after transient
 * ones), how many attempts it made, for the dead-letter middleware (`attemptsBefore`). Not for
 * errors that are no objects (nothing to hold it: the letter counts 1).
 */
export function recordAttempts(error: unknown, attempts: number): void {
  if (typeof error === 'object' && error !== null) attemptsMade.set(error, attempts);
}

/**
 * The attempts recordAttempts noted on `error`, once (forgotten when read: an error object
 * thrown again for another message does not bring this count along); undefined when none.
 */
export function takeAttempts(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const attempts = attemptsMade.get(error);
  attemptsMade.delete(error);
  return attempts;
}
