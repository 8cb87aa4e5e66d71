import {
  type AppendOptions,
  type EventStore,
  type ExpectedVersion,
  type StreamInfo,
} from './event-store.port';
import { type Envelope } from '../messages/envelope';
import { MessageValidationError } from '../messages/message.errors';

/**
 * What every backend knows about a stream before it writes: the rules below are shared so that
 * the in-memory, MongoDB and Redis stores decide expected versions, idempotency and states alike.
 * (The Redis store re-states them in Lua; keep docs/adr/003 and that script in step with this file.)
 */
export interface StreamHead {
  /** Version of the last event ever appended (truncation and soft deletion do not lower it). */
  version: number;
  /** First version that reads still return (events before it were truncated or soft-deleted). */
  firstVersion: number;
  tombstoned: boolean;
  /** The version at which the stream was soft-deleted, when no event was appended since. */
  softDeletedAt?: number;
}

export const MISSING_HEAD: StreamHead = { version: 0, firstVersion: 1, tombstoned: false };

/** The stream has at least one event that reads return. */
export function hasVisibleEvents(head: StreamHead): boolean {
  return head.version > 0 && head.version >= head.firstVersion;
}

/** What deleteStream takes (see the port). */
export type DeleteStreamOptions = Parameters<EventStore['deleteStream']>[1];

/**
 * Checks an append's options before a store does anything: `expectedVersion` is required and
 * must be an ExpectedVersion (a non-negative integer, 'any', 'no-stream' or 'exists'). Every
 * store calls it first, so a value outside the port (a typo such as 'nostream') is refused
 * alike everywhere instead of being read differently by each backend.
 * @throws TypeError naming `expectedVersion` and the value given
 */
export function checkAppendOptions(
  options: AppendOptions | undefined,
): asserts options is AppendOptions {
  checkExpectedVersion(options?.expectedVersion);
}

/**
 * Checks an append's events before a store does anything: no messageId twice in one append.
 * Idempotency is keyed by messageId, so a batch holding one twice would store the event twice
 * and leave its re-append unanswerable (which of the two versions is it?).
 * @throws MessageValidationError naming the repeated messageId and both places in the batch
 */
export function checkAppendEvents(events: readonly Envelope[]): void {
  if (events.length < 2) return;
  const seen = new Map<string, number>();
  events.forEach((event, index) => {
    const earlier = seen.get(event.messageId);
    if (earlier !== undefined) {
      throw new MessageValidationError(
        event.type,
        'messageId',
        `${JSON.stringify(event.messageId)} appears twice in one append (events ${earlier} and ${index})`,
      );
    }
    seen.set(event.messageId, index);
  });
}

/**
 * Checks deleteStream's options before a store does anything: `mode` is required, 'soft' or
 * 'hard'; `expectedVersion`, when given, must be an ExpectedVersion.
 * @throws TypeError naming `mode` or `expectedVersion` and the value given
 */
export function checkDeleteStreamOptions(
  options: DeleteStreamOptions | undefined,
): asserts options is DeleteStreamOptions {
  const mode: unknown = options?.mode;
  if (mode !== 'soft' && mode !== 'hard') {
    throw new TypeError(`mode must be 'soft' or 'hard', got ${shown(mode)}`);
  }
  if (options?.expectedVersion !== undefined) checkExpectedVersion(options.expectedVersion);
}

function checkExpectedVersion(expected: unknown): void {
  if (
    expected === 'any' ||
    expected === 'no-stream' ||
    expected === 'exists' ||
    (Number.isSafeInteger(expected) && (expected as number) >= 0)
  )
    return;
  throw new TypeError(
    `expectedVersion must be a non-negative integer, 'any', 'no-stream' or 'exists', ` +
      `got ${shown(expected)}`,
  );
}

/** A value as an error message shows it: strings quoted, so '1' and 1 differ. */
function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * Whether an append expecting `expected` may go ahead. A soft-deleted or fully truncated stream
 * satisfies 'no-stream' (and its number, since versions continue after the old last version).
 */
export function expectationHolds(expected: ExpectedVersion, head: StreamHead): boolean {
  if (expected === 'any') return true;
  if (expected === 'no-stream') return !hasVisibleEvents(head);
  if (expected === 'exists') return hasVisibleEvents(head);
  return head.version === expected;
}

/** What streamInfo reports for a stream whose head is `head`. */
export function streamInfoOf(streamId: string, head: StreamHead): StreamInfo {
  return {
    streamId,
    version: head.version,
    firstVersion: head.firstVersion,
    state: streamState(head),
  };
}

export function streamState(head: StreamHead): StreamInfo['state'] {
  if (head.tombstoned) return 'tombstoned';
  if (head.version === 0) return 'missing';
  if (head.softDeletedAt === head.version) return 'soft-deleted';
  return 'active';
}

export type DuplicateCheck =
  | { kind: 'new' }
  | { kind: 'duplicate'; lastVersion: number }
  /** Some messageIds are stored, but not as this exact run: refused as a conflict. */
  | { kind: 'partial' };

/**
 * Idempotency: is `batch` (messageIds in order) already stored as consecutive events?
 * `lookup` returns the version a messageId is stored at among the stream's visible events.
 */
export function checkDuplicates(
  batch: readonly string[],
  lookup: (messageId: string) => number | undefined,
): DuplicateCheck {
  const versions = batch.map(lookup);
  if (versions.every((v) => v === undefined)) return { kind: 'new' };
  const first = versions[0];
  if (first === undefined) return { kind: 'partial' };
  const consecutive = versions.every((v, i) => v === first + i);
  return consecutive
    ? { kind: 'duplicate', lastVersion: first + batch.length - 1 }
    : { kind: 'partial' };
}
