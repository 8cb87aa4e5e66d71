import { type ExpectedVersion } from './event-store.port';

/** The stream is not at the version the caller expected: someone else appended first. */
export class ConcurrencyConflictError extends Error {
  /** How many attempts retryOnConflict made before giving up; undefined for a single append. */
  readonly attempts?: number;
  /**
   * True when the expected version held but some of the append's messageIds are stored in the
   * stream already, not as exactly this batch (the same messageIds in the same order, which
   * would be a re-append); undefined when the expected version is what failed.
   */
  readonly overlap?: true;

  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    /** The stream's current version; 0 when it does not exist. */
    readonly actual: number,
    /**
     * `attempts` and `cause` (the last conflict) when retryOnConflict gives up; `overlap` when
     * the batch, not the expected version, is what conflicts (see the property).
     */
    options: { attempts?: number; cause?: ConcurrencyConflictError; overlap?: boolean } = {},
  ) {
    super(
      `Concurrency conflict on stream ${streamId}: ` +
        (options.overlap ? overlapOf(expected, actual) : conflictOf(expected, actual)) +
        (options.attempts === undefined
          ? ''
          : `; retryOnConflict gave up after ${options.attempts} attempts`),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'ConcurrencyConflictError';
    if (options.attempts !== undefined) this.attempts = options.attempts;
    if (options.overlap) this.overlap = true;
  }
}

/**
 * An 'any' or 'exists' append (or one whose version held) whose batch shares messageIds with
 * stored events: worded as a version conflict it read "expected version any" or, for 'exists'
 * on a stream with events, "it has no events left" (a review, session 46).
 */
function overlapOf(expected: ExpectedVersion, actual: number): string {
  return (
    `some of the events' messageIds are stored in it already, but not as this batch (a retried ` +
    `append must send the same messageIds in the same order); the expected version ` +
    `(${String(expected)}) held, at version ${actual}`
  );
}

function conflictOf(expected: ExpectedVersion, actual: number): string {
  if (expected === 'exists')
    // A soft-deleted or truncated stream has a version but no events: it does not exist either.
    return actual === 0
      ? 'expected the stream to exist, but it is empty'
      : `expected the stream to exist, but it has no events left (at version ${actual})`;
  if (expected === 'no-stream') return `expected no stream, but it is at version ${actual}`;
  return `expected version ${String(expected)}, actual ${actual}`;
}

/** The stream does not exist (or was deleted) and the operation needs it. */
export class StreamNotFoundError extends Error {
  constructor(readonly streamId: string) {
    super(`Stream ${streamId} not found`);
    this.name = 'StreamNotFoundError';
  }
}

/** The stream was hard-deleted; it can never be written again. */
export class StreamDeletedError extends Error {
  constructor(readonly streamId: string) {
    super(`Stream ${streamId} is deleted (tombstoned) and cannot be written`);
    this.name = 'StreamDeletedError';
  }
}

/**
 * A catch-up subscription was started from a position past the end of the store's log: a
 * checkpoint of another log (the store emptied or re-created, another key prefix or database).
 * Polling there would wait for ever, and the events appended meanwhile would take positions up
 * to it and never be delivered. The subscription stops with this error (onError) before it
 * delivers anything. Subscribe again from a position of this log (0 reads all of it again).
 * An EventForwarder whose checkpoint is past the end reports it every round (onError, `failing`)
 * and forwards nothing until the checkpoint is moved to a position of this log.
 */
export class CheckpointPastEndError extends Error {
  constructor(
    /** The position the subscription was started from. */
    readonly fromPosition: number,
    /** The end of the log when it was checked: every position taken is at or below it. */
    readonly end: number,
    /** Whose position it is, and what to do: for readers other than a subscription. */
    reader: { what: string; remedy: string } = {
      what: 'subscription fromPosition',
      remedy: 'subscribe from a position of this log (0 reads all of it again)',
    },
  ) {
    super(
      `${reader.what} ${fromPosition} is past the end of the event store's log ` +
        `(${end}): the checkpoint is not of this log (was the store emptied or re-created, or ` +
        `is it another key prefix or database?). Events appended from now on would take ` +
        `positions up to ${fromPosition} and never be delivered: ${reader.remedy}`,
    );
    this.name = 'CheckpointPastEndError';
  }
}
