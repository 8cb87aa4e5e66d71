import { shownValue } from '../config/shown-value';
import { isWellFormed, NOT_WELL_FORMED } from '../config/well-formed';
import {
  type AppendOptions,
  type EventStore,
  type ExpectedVersion,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RetentionPolicy,
  type StreamInfo,
  type SubscriptionOptions,
} from './event-store.port';
import { MAX_TIMER_MS } from '../config/settings.schema';
import { type Envelope } from '../messages/envelope';
import { MessageValidationError } from '../messages/message.errors';
import { type MessageSerializer, type SerializedEnvelope } from '../messages/serializer.port';
import { locateAppendError } from './stored-event.decode';
import { isMessageType } from '../messages/message.type';

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
  /**
   * The version at which the stream was last soft-deleted (kept when it is created again: a
   * first readable version past it + 1 is a cut, see StreamInfo.truncated).
   */
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

/** The longest stream id the stores take (characters); every backend indexes it. */
export const MAX_STREAM_ID_LENGTH = 1_024;

/**
 * Checks a stream id before a store reads or writes anything: a string with a character other
 * than white space, at most MAX_STREAM_ID_LENGTH characters, no NUL, well-formed Unicode (no
 * lone surrogate). Every store calls it, so
 * an id one backend would take and another would read back differently (a number, say) is
 * refused alike everywhere.
 * @throws TypeError naming `streamId` and what is wrong with it
 */
export function checkStreamId(streamId: unknown): asserts streamId is string {
  if (typeof streamId !== 'string')
    throw new TypeError(`streamId must be a string, got ${shownValue(streamId)}`);
  if (streamId.trim().length === 0)
    throw new TypeError(`streamId must not be empty or blank, got ${JSON.stringify(streamId)}`);
  if (streamId.length > MAX_STREAM_ID_LENGTH)
    throw new TypeError(
      `streamId must be at most ${MAX_STREAM_ID_LENGTH} characters, got ${streamId.length}`,
    );
  if (streamId.includes('\u0000'))
    throw new TypeError(
      `streamId must not contain a NUL character, got ${JSON.stringify(streamId)}`,
    );
  // Redis and MongoDB store ids as UTF-8, where every lone surrogate becomes U+FFFD: two ids
  // differing only there would be one stream (the in-memory store kept them apart).
  if (!isWellFormed(streamId))
    throw new TypeError(`streamId ${NOT_WELL_FORMED}, got ${JSON.stringify(streamId)}`);
}

/**
 * Checks an append's events before a store does anything: an array of envelopes, each with a
 * non-empty `type` and `messageId`, an `aggregateId` and `aggregateType` that are strings (empty
 * for none, as MessageFactory writes them) and a `metadata` object, and no messageId twice in
 * one append. An envelope built by hand without them was stored by one backend, stored without
 * them by another and refused by the third with a TypeError from inside it.
 * Idempotency is keyed by messageId, so a batch holding one twice would store the event twice
 * and leave its re-append unanswerable (which of the two versions is it?).
 * @throws TypeError naming the envelope's field, the value given and the stream (`streamId` set)
 * @throws MessageValidationError naming the repeated messageId, both places in the batch and
 *   the stream (`streamId` set)
 */
export function checkAppendEvents(events: readonly Envelope[], streamId: string): void {
  // Named as the serializer's refusals are (locateAppendError): which append, of which batch.
  const refuse = (message: string) =>
    Object.assign(new TypeError(`${message} (append to stream ${streamId})`), { streamId });
  if (!Array.isArray(events))
    throw refuse(`events must be an array of envelopes, got ${shownValue(events)}`);
  events.forEach((event: unknown, index) => {
    if (event === null || typeof event !== 'object')
      throw refuse(`events[${index}] must be an envelope, got ${shownValue(event)}`);
    for (const field of ['type', 'messageId'] as const) {
      const value: unknown = (event as Partial<Envelope>)[field];
      if (typeof value !== 'string' || value.length === 0)
        throw refuse(
          `events[${index}].${field} must be a non-empty string, got ${shownValue(value)}`,
        );
    }
    for (const field of ['aggregateId', 'aggregateType'] as const) {
      const value: unknown = (event as Partial<Envelope>)[field];
      if (typeof value !== 'string')
        throw refuse(`events[${index}].${field} must be a string, got ${shownValue(value)}`);
    }
    const metadata: unknown = (event as Partial<Envelope>).metadata;
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))
      throw refuse(`events[${index}].metadata must be an object, got ${shownValue(metadata)}`);
  });
  if (events.length < 2) return;
  const seen = new Map<string, number>();
  events.forEach((event, index) => {
    const earlier = seen.get(event.messageId);
    if (earlier !== undefined) {
      const error = new MessageValidationError(
        event.type,
        'messageId',
        `${JSON.stringify(event.messageId)} appears twice in one append to stream ${streamId} ` +
          `(events ${earlier} and ${index})`,
      );
      error.streamId = streamId;
      throw error;
    }
    seen.set(event.messageId, index);
  });
}

/**
 * An append's events serialized, all before anything is written. What the serializer throws
 * for one of them names the stream, the event's index in the batch and its messageId
 * (locateAppendError): a MessageValidationError named only the type and the field, so the
 * caller of a batch could not tell which event, or which append, was wrong.
 */
export function serializeForAppend(
  serializer: MessageSerializer,
  streamId: string,
  events: readonly Envelope[],
): SerializedEnvelope[] {
  const serialized = new Array<SerializedEnvelope>(events.length);
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    try {
      serialized[i] = serializer.serialize(event);
    } catch (error) {
      throw locateAppendError(error, streamId, i, event.messageId);
    }
  }
  return serialized;
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
    throw new TypeError(`mode must be 'soft' or 'hard', got ${shownValue(mode)}`);
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
      `got ${shownValue(expected)}`,
  );
}

/**
 * Checks readStream's options before a store reads anything (ranges on the port): `fromVersion`
 * and `toVersion` positive integers, `limit` a non-negative integer, `direction` 'forwards' or
 * 'backwards'; each may be left out.
 * @throws TypeError naming the option and the value given
 */
export function checkReadStreamOptions(options: ReadStreamOptions | undefined): void {
  if (options === undefined) return;
  checkOptionsObject('readStream options', options);
  checkOptional('fromVersion', options.fromVersion, isPositiveInteger, POSITIVE_INTEGER);
  checkOptional('toVersion', options.toVersion, isPositiveInteger, POSITIVE_INTEGER);
  checkOptional('limit', options.limit, isNonNegativeInteger, NON_NEGATIVE_INTEGER);
  const direction: unknown = options.direction;
  if (direction !== undefined && direction !== 'forwards' && direction !== 'backwards') {
    throw new TypeError(
      `direction must be 'forwards' or 'backwards', got ${shownValue(direction)}`,
    );
  }
}

/**
 * Checks readAll's options before a store reads anything (ranges on the port): `fromPosition`
 * and `limit` non-negative integers, `types` an array of type names or message types; each may be
 * left out.
 * @throws TypeError naming the option and the value given
 */
export function checkReadAllOptions(options: ReadAllOptions | undefined): void {
  if (options === undefined) return;
  checkOptionsObject('readAll options', options);
  checkOptional('fromPosition', options.fromPosition, isNonNegativeInteger, NON_NEGATIVE_INTEGER);
  checkOptional('limit', options.limit, isNonNegativeInteger, NON_NEGATIVE_INTEGER);
  checkTypes(options.types);
}

/**
 * Checks subscribe's options before a subscription starts (ranges on the port): `handler` a
 * function, `fromPosition` a non-negative integer, `limit` (the batch read per poll) a positive
 * integer, `pollIntervalMs` a positive number of milliseconds a timer can wait (at most
 * 2 147 483 647), `types` an array of type names or message types. pollingSubscription calls it, so every store
 * refuses alike, at once (subscribe returns a Subscription, not a promise).
 * @throws TypeError naming the option and the value given
 */
export function checkSubscriptionOptions(
  options: SubscriptionOptions | undefined,
): asserts options is SubscriptionOptions {
  checkOptionsObject('subscribe options', options);
  if (typeof options.handler !== 'function') {
    throw new TypeError(`handler must be a function, got ${shownValue(options.handler)}`);
  }
  for (const name of ['onError', 'onCaughtUp'] as const)
    if (options[name] !== undefined && typeof options[name] !== 'function')
      throw new TypeError(`${name} must be a function, got ${shownValue(options[name])}`);
  checkOptional('fromPosition', options.fromPosition, isNonNegativeInteger, NON_NEGATIVE_INTEGER);
  checkOptional('limit', options.limit, isPositiveInteger, POSITIVE_INTEGER);
  checkDelayMs('pollIntervalMs', options.pollIntervalMs);
  checkTypes(options.types);
}

/**
 * Checks truncateStream's `beforeVersion` before a store changes anything: a positive integer
 * (1 removes nothing; past the last version + 1 it removes every event).
 * @throws TypeError naming `beforeVersion` and the value given
 */
export function checkBeforeVersion(beforeVersion: unknown): asserts beforeVersion is number {
  if (!isPositiveInteger(beforeVersion)) {
    throw new TypeError(
      `beforeVersion must be ${POSITIVE_INTEGER}, got ${shownValue(beforeVersion)}`,
    );
  }
}

/**
 * Checks a retention policy before a store removes anything (ranges on the port): `maxAgeMs` a
 * non-negative finite number, `maxCount` a non-negative integer (0 keeps no event),
 * `streamPrefix` a string; each may be left out. A malformed number would otherwise remove
 * events the policy never meant to (a NaN age cutoff expired everything on one backend).
 * @throws TypeError naming the option and the value given
 */
export function checkRetentionPolicy(
  policy: RetentionPolicy | undefined,
): asserts policy is RetentionPolicy {
  checkOptionsObject('policy', policy);
  checkOptional(
    'maxAgeMs',
    policy.maxAgeMs,
    (value) => typeof value === 'number' && Number.isFinite(value) && value >= 0,
    'a non-negative finite number',
  );
  checkOptional('maxCount', policy.maxCount, isNonNegativeInteger, NON_NEGATIVE_INTEGER);
  checkOptional('maxPosition', policy.maxPosition, isNonNegativeInteger, NON_NEGATIVE_INTEGER);
  const prefix: unknown = policy.streamPrefix;
  if (prefix !== undefined && typeof prefix !== 'string') {
    throw new TypeError(`streamPrefix must be a string, got ${shownValue(prefix)}`);
  }
}

/**
 * Checks a timer's delay, when given: a positive number of milliseconds, at most 2 147 483 647
 * (the longest setTimeout / setInterval wait; a longer or NaN delay fires after 1 ms).
 * @throws TypeError naming the option and the value given
 */
export function checkDelayMs(name: string, value: unknown): void {
  checkOptional(
    name,
    value,
    (delay) => typeof delay === 'number' && delay > 0 && delay <= MAX_TIMER_MS,
    `a positive number of milliseconds up to ${MAX_TIMER_MS}`,
  );
}

const POSITIVE_INTEGER = 'a positive integer';
const NON_NEGATIVE_INTEGER = 'a non-negative integer';

function isPositiveInteger(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function isNonNegativeInteger(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function checkOptional(
  name: string,
  value: unknown,
  valid: (value: unknown) => boolean,
  expected: string,
): void {
  if (value !== undefined && !valid(value)) {
    throw new TypeError(`${name} must be ${expected}, got ${shownValue(value)}`);
  }
}

function checkOptionsObject(name: string, options: unknown): asserts options is object {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${name} must be an object, got ${shownValue(options)}`);
  }
}

function checkTypes(types: unknown): void {
  if (types === undefined) return;
  if (!Array.isArray(types)) {
    throw new TypeError(
      `types must be an array of type names or message types, got ${shownValue(types)}`,
    );
  }
  const wrong = (types as unknown[]).findIndex(
    (type) => typeof type !== 'string' && !isMessageType(type),
  );
  if (wrong >= 0) {
    throw new TypeError(
      'types must be an array of type names or message types, got ' +
        `${shownValue(types[wrong])} at index ${wrong}`,
    );
  }
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
  const state = streamState(head);
  return {
    streamId,
    version: head.version,
    firstVersion: head.firstVersion,
    state,
    // A soft delete leaves the first version right past it: anything later is a cut.
    ...(state === 'active' &&
      head.firstVersion > (head.softDeletedAt ?? 0) + 1 && { truncated: true as const }),
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
