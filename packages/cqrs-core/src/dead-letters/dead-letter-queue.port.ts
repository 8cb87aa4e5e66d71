import { shownValue } from '../config/shown-value';
import { type Envelope, type Priority } from '../messages/envelope';
import { type MessageSerializer } from '../messages/serializer.port';
import { namesOfType } from '../messages/type.names';
import { type Publisher } from '../transport/transport.port';
import { upcastLetterEnvelope } from './letter.upcast';
import { isNotUnderstood, parseWireEnvelope } from './poison.kinds';

/** A message that could not be handled, with everything an operator needs to decide its fate. */
export interface DeadLetter {
  /** Assigned by the queue; stable until the letter is replayed or purged. */
  readonly id: string;
  /** The message; absent for poison (undecodable) messages, which keep `raw`. */
  readonly envelope?: Envelope;
  /** The wire text of a poison message, as received. */
  readonly raw?: string;
  /**
   * Poison only: the `type` of the envelope in `raw` when that text is a wire envelope (a
   * message of a type or schema version the consumer did not know yet: a rolling deploy), so a
   * `type` filter finds it. Absent when `raw` is not an envelope, and on letters stored before
   * session 27. A letter with an `envelope` has its type there.
   */
  readonly type?: string;
  /** Poison only: the `messageId` of the envelope in `raw`, as `type`. */
  readonly messageId?: string;
  readonly originalTopic: string;
  /** Where the message was in the broker (entry id, partition:offset). */
  readonly position: string;
  /** The consumer group that gave up on it: a replay is handled by this group only (but see replayFor). */
  readonly group: string;
  /**
   * Set for a fan-out handler's letter: the `replayFor` its replay carries instead of `group`,
   * naming every instance's group of that handler (`<service>.<name>.*`, fanOutReplayTarget).
   * A fan-out group belongs to one instance, whose id (host-pid by default) is usually gone by
   * the time of the replay: a replay for it alone would be acknowledged unhandled everywhere.
   */
  readonly replayFor?: string;
  /** Handler that gave up; `(decoder)` for poison, `(forwarder)` for the outbox forwarder's. */
  readonly handler: string;
  /** The last error's message, or why decoding failed. */
  readonly reason: string;
  /**
   * The error's name (by its class when it kept the name 'Error', as a command's sender sees
   * it). Poison is `NotUnderstoodMessageError` (a well-formed envelope of a type or schema
   * version this consumer does not know yet: replayable once it does) or
   * `UndecodableMessageError` (malformed: never replayable).
   */
  readonly errorName: string;
  /**
   * The error's stack, then each of its causes' (`Caused by: …`, as Node prints them): a wrapped
   * error's own stack leaves out the error it wraps.
   */
  readonly stack?: string;
  readonly attempts: number;
  /** ISO-8601. */
  readonly deadLetteredAt: string;
}

export type NewDeadLetter = Omit<DeadLetter, 'id'>;

/**
 * Which letters an operation is about: every given field must match (an empty filter: all). A
 * text field given empty (`originalTopic: ''`) is refused with a TypeError by every queue
 * (checkDeadLetterFilter), not taken for a field not given.
 */
export interface DeadLetterFilter {
  originalTopic?: string;
  handler?: string;
  /**
   * The envelope's type (a poison letter's: the type of the envelope in its raw text, typeOfLetter;
   * never matches malformed text). A queue given the registry (`serializer`) also matches the type's
   * former names (SerializerRegistry.formerNames): letters written before a rename.
   */
  type?: string;
  /** Any of these envelope types (set by a queue from `type` and its former names). */
  types?: readonly string[];
  /** Substring of the reason. */
  reason?: string;
  /** The error's name exactly (`errorName`: what `stats().byReason` counts by). */
  errorName?: string;
  /**
   * Only the letters dead-lettered before this instant (their `deadLetteredAt` earlier than it):
   * an ISO-8601 date-time, refused otherwise with a TypeError by every queue
   * (checkDeadLetterFilter). What a retention job purges with, so that letters holding a user's
   * data go once they are as old as the rest of it (SPEC S3-7): `purge({ originalTopic,
   * deadLetteredBefore })`, bounded as every purge is (a page of the store in memory at a time).
   * A letter whose `deadLetteredAt` is no date-time is never matched by it.
   */
  deadLetteredBefore?: string;
  /** Exactly these letters (ids the queue assigned); combined with the other fields. */
  ids?: readonly string[];
  /**
   * At most this many letters, in list order: a non-negative integer (0 selects none), refused
   * otherwise with a TypeError by every queue (checkDeadLetterFilter). Selects nothing by itself.
   */
  limit?: number;
  /**
   * Only the letters after this one in list order: the id of the last letter of the previous
   * page (it may have been replayed or purged since). With `limit`, pages through a queue of any
   * size. Selects nothing by itself.
   * @throws DeadLetterCursorError (from the operation) when it is not a letter id of the queue
   */
  after?: string;
}

/** `after` is not a letter id of this queue (each queue has its own id form). */
export class DeadLetterCursorError extends TypeError {
  constructor(after: string, form: string) {
    super(`after must be a letter id of this queue (${form}), got ${JSON.stringify(after)}`);
    this.name = 'DeadLetterCursorError';
  }
}

export interface DeadLetterStats {
  total: number;
  byTopic: Record<string, number>;
  /** Keyed by error name: counting free-text reasons would explode. */
  byReason: Record<string, number>;
}

export interface ReplayResult {
  replayed: number;
  /** Letters that can never be replayed (malformed poison); they stay. Why: `skips`. */
  skipped: number;
  /** Skipped letters and why they cannot be replayed: the first REPLAY_LISTED of them. */
  skips: ReplaySkip[];
  /**
   * Letters whose publish was refused (an unknown type, a broker error): they stay in the queue,
   * and the replay went on with the next letter. `reason` is the error's name and message. The
   * first REPLAY_LISTED of them; `failures` counts them all.
   */
  failed: ReplayFailure[];
  failures: number;
  /**
   * Why the replay ended before the last selected letter, when it did: the publisher refused
   * REPLAY_STOP_AFTER letters in a row for reasons of its own (a broker down or refusing
   * writes), so the rest were not tried and stay in the queue.
   */
  stopped?: string;
}

/** How many failed and skipped letters a ReplayResult lists at most (it counts them all). */
export const REPLAY_LISTED = 100;
/**
 * A replay stops after this many letters in a row whose publish failed for a reason that is
 * not the letter's own (an error other than LETTER_ERRORS): the broker is in trouble.
 */
export const REPLAY_STOP_AFTER = 20;
/**
 * Errors a publish raises because of the letter itself: they never stop a replay. Matched by
 * class name along the prototype chain, so subclasses count (KafkaMessageTooLargeError).
 */
const LETTER_ERRORS = new Set([
  'UnknownMessageTypeError',
  'UnsupportedSchemaVersionError',
  'MissingUpcasterError',
  'MessageValidationError',
  'MessageTooLargeError',
  'ChecksumMismatchError',
  'DeadLetterUpcastError',
  'TypeError',
]);

function isLetterError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (LETTER_ERRORS.has(error.name)) return true;
  for (
    let proto: unknown = Object.getPrototypeOf(error);
    proto;
    proto = Object.getPrototypeOf(proto)
  )
    if (LETTER_ERRORS.has((proto as { constructor: { name: string } }).constructor.name))
      return true;
  return false;
}

export interface ReplayFailure {
  id: string;
  reason: string;
}

export interface ReplaySkip {
  id: string;
  reason: string;
}

/**
 * What a replay needs of a publisher for poison letters that were not understood: writing their
 * wire text back as it is (the Redis Streams, Kafka and in-memory publishers have it). A replay
 * through a publisher without it reports such letters in `failed`.
 */
export interface RawPublisher {
  publishRaw(topic: string, key: string, raw: string, priority?: Priority): Promise<void>;
}

/** The metadata key naming the consumer group a replayed message is for (see replayEnvelope). */
export const REPLAY_FOR = 'replayFor';

/**
 * The `replayFor` of a fan-out handler's dead letters (groups `<base>.<instanceId>`, base
 * `<service>.<name>`): every instance of the handler running at the replay handles it.
 */
export function fanOutReplayTarget(base: string): string {
  return `${base}.*`;
}

/**
 * A dead letter's replay meant for another consumer group than `group` (see replayEnvelope);
 * `fanOut` is the group's fanOutReplayTarget when it is an instance's group of a fan-out handler.
 */
export function replayedForAnother(envelope: Envelope, group: string, fanOut?: string): boolean {
  const target = envelope.metadata[REPLAY_FOR];
  return typeof target === 'string' && target !== group && target !== fanOut;
}

/**
 * Where dead letters go (S1-5), one stream per original topic, and what operators do with them.
 *
 * Contract: `add` is durable when it resolves (the message is acknowledged only after it);
 * `list`, `replay` and `purge` act on exactly the letters `filter` matches (`ids` included),
 * reading the store page by page (memory bounded by a page, not by the queue); `list` stops
 * once `limit` letters matched. `replay` publishes each letter's envelope to its original topic
 * with `retryCount` reset (and no `replyTo` or `maxRetries`: see replayEnvelope) and the
 * metadata `replayFor` naming the letter's group, or every
 * instance of a fan-out handler (the router acknowledges it unhandled in every other group: see
 * replayEnvelope); a poison letter that was
 * not understood (`NotUnderstoodMessageError`) is written back as its raw text (RawPublisher),
 * with the same metadata; a malformed one is skipped and stays (`skips` says why). A queue given
 * the registry (`serializer`) reads each letter's envelope through it first (upcastLetterEnvelope):
 * a letter written at an older schema version of its type is published upcast to the current
 * one, so letters of an older release replay after a version bump; one that cannot be read so
 * (DeadLetterUpcastError) stays and is reported in `failed`. Without the registry the envelope
 * is published as it was dead-lettered, and a publisher's registry refuses old data as current. A letter
 * added while a replay runs is not replayed by it. It removes the letter only after the publish
 * was accepted — a crash in between replays it twice
 * (consumers deduplicate by messageId), never zero times. A letter whose publish is refused stays
 * and is reported in `failed`; the replay goes on with the next one. An error of the queue's own
 * store (list, remove) rejects the call: letters replayed before it are gone, the rest stay.
 *
 * Concurrent replays (two operators, the CLI and the admin endpoint, two instances) share the
 * letters: a replay **claims** each letter before publishing it, for a lease (`claimLeaseMs`
 * of the queue's options, default DEFAULT_CLAIM_LEASE_MS), and one that finds a letter claimed
 * by another replay leaves it to that one (it is in none of its counts). So each letter is
 * published once per claim and counted in one replay's `replayed`, which counts only the
 * letters that replay removed itself (a letter purged between its publish and its removal is
 * not counted). A refused publish releases the claim (the letter stays, in `failed`). A
 * replayer that dies holding a claim leaves its letter unreplayable until the lease expires,
 * then any replay takes it: a crash between publish and remove still replays a letter twice,
 * never zero times. `list` and `stats` show claimed letters as any other; `purge` removes them
 * too (it is explicit), and a replay holding such a letter's claim does not count it.
 */
export interface DeadLetterQueue {
  /**
   * Stores a letter; returns its id. Refuses, with a TypeError naming the field, a letter whose
   * `originalTopic` or `handler` is not a non-empty string (checkNewDeadLetter).
   */
  add(letter: NewDeadLetter): Promise<string>;
  /**
   * The matching letters in list order, the order `limit` and `after` count in. List order
   * differs by backend: in memory and on MongoDB the order the letters were added; on Redis,
   * which keeps a stream per original topic, the topics by name, then the order added within
   * each. Each letter comes once in a paging with `after` and `limit` on every backend, and a
   * replay or purge with `limit` takes the first letters of that order.
   */
  list(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  stats(): Promise<DeadLetterStats>;
  replay(filter: DeadLetterFilter, publisher: Publisher): Promise<ReplayResult>;
  /**
   * Removes the matching letters; returns how many. An empty filter purges everything (callers
   * facing users, like the admin endpoint, insist on an explicit `all`). With
   * `deadLetteredBefore` it is a retention: exactly the letters dead-lettered before that instant
   * go (a younger one stays, however near the cutoff), on every backend.
   */
  purge(filter: DeadLetterFilter): Promise<number>;
}

/**
 * `filter` with its `type` widened to the type's names (MessageSerializer.namesOf): a queue
 * given the registry calls it first, so a filter on a renamed type finds its older letters.
 */
export function withTypeNames(
  filter: DeadLetterFilter,
  serializer: MessageSerializer | undefined,
): DeadLetterFilter {
  if (!filter.type || filter.types || !serializer?.namesOf) return filter;
  return { ...filter, types: namesOfType(serializer, filter.type) };
}

/**
 * The message type of a letter: its envelope's, or for poison the type recorded from its raw
 * text (DeadLetter.type); '' for text that is not an envelope. What a `type` filter matches.
 */
export function typeOfLetter(letter: NewDeadLetter): string {
  return letter.envelope?.type ?? letter.type ?? '';
}

/** True when a letter matches a filter (all given fields must match). */
export function matchesFilter(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.ids && !filter.ids.includes(letter.id)) return false;
  if (filter.originalTopic && letter.originalTopic !== filter.originalTopic) return false;
  if (filter.handler && letter.handler !== filter.handler) return false;
  if (filter.types) {
    if (!filter.types.includes(typeOfLetter(letter))) return false;
  } else if (filter.type && typeOfLetter(letter) !== filter.type) return false;
  // String(): a letter stored before reasons were always text may hold an object.
  if (filter.reason && !String(letter.reason).includes(filter.reason)) return false;
  if (filter.errorName && letter.errorName !== filter.errorName) return false;
  if (filter.deadLetteredBefore !== undefined) {
    // Compared as instants: an offset or fraction digits would mislead a comparison of text.
    const at = Date.parse(letter.deadLetteredAt);
    if (!(at < Date.parse(filter.deadLetteredBefore))) return false;
  }
  return true;
}

/**
 * For queues that read their store a page at a time: each page with the letters of it that
 * `filter` matches (pages without a match are skipped), stopping once `limit` letters matched.
 */
export async function* matchingPages<Page>(
  pages: AsyncIterable<Page>,
  lettersOf: (page: Page) => readonly DeadLetter[],
  filter: DeadLetterFilter,
): AsyncGenerator<{ page: Page; letters: DeadLetter[] }> {
  let found = 0;
  for await (const page of pages) {
    const matches = lettersOf(page).filter((letter) => matchesFilter(letter, filter));
    const letters =
      filter.limit === undefined ? matches : matches.slice(0, Math.max(0, filter.limit - found));
    found += letters.length;
    if (letters.length > 0) yield { page, letters };
    if (filter.limit !== undefined && found >= filter.limit) return;
  }
}

/** How long a replay's claim on a letter lasts unless removed or released first (one publish). */
export const DEFAULT_CLAIM_LEASE_MS = 60_000;

/** @throws TypeError when a `claimLeaseMs` option is given and not a positive integer */
export function claimLeaseOf(queue: string, claimLeaseMs: number | undefined): number {
  const lease = claimLeaseMs ?? DEFAULT_CLAIM_LEASE_MS;
  if (!Number.isInteger(lease) || lease < 1)
    throw new TypeError(
      `${queue}: options.claimLeaseMs must be a positive integer, got ${shownValue(claimLeaseMs)}`,
    );
  return lease;
}

/**
 * What a queue's store does for one replay (replayLetters), under that replay's own token: the
 * claims that keep concurrent replays from publishing a letter twice.
 */
export interface ReplayClaims {
  /**
   * Claims a letter for the lease: false when another replay holds a live claim on it, or it
   * is gone (replayed or purged meanwhile). An expired claim is taken over.
   */
  claim(letter: DeadLetter): Promise<boolean>;
  /** Gives a letter whose publish failed back (only this replay's own claim). */
  release(letter: DeadLetter): Promise<void>;
  /** Removes a published letter and its claim: true when this call removed it (not a purge). */
  remove(letter: DeadLetter): Promise<boolean>;
}

/** Handlers whose letters never reached their topic: their replay is for every group. */
const NOT_CONSUMED = new Set(['(forwarder)']);

/**
 * Metadata of a letter's first life a replay leaves out. `replyTo`: the requester was answered
 * when the command was dead-lettered (a failed reply) or has timed out since, and its instance
 * may be long gone — a reply to it is read by no one, and on Kafka it re-created the topic of
 * an instance gone. `maxRetries`: the limit that ran out then (a dead letter's, S1-2), not this
 * delivery's.
 */
const NOT_REPLAYED = ['replyTo', 'maxRetries'];

/**
 * A replay's metadata: the letter's, without NOT_REPLAYED, plus attempts reset, where it came
 * from, and which group it is for.
 */
function replayMetadata(
  metadata: Readonly<Record<string, unknown>>,
  letter: DeadLetter,
): Record<string, unknown> {
  const forGroup = NOT_CONSUMED.has(letter.handler)
    ? undefined
    : letter.replayFor || letter.group || undefined;
  const kept = Object.fromEntries(
    Object.entries(metadata).filter(([key]) => !NOT_REPLAYED.includes(key)),
  );
  return {
    ...kept,
    retryCount: 0,
    replayedFrom: letter.id,
    ...(forGroup && { [REPLAY_FOR]: forGroup }),
  };
}

/**
 * The envelope a replay publishes: same messageId (idempotency), retry count reset, without
 * the `replyTo` and `maxRetries` of its first life (NOT_REPLAYED), `replayedFrom` the letter's id and `replayFor` its group, so that only the group that gave up
 * handles it again (the router acknowledges it in any other group without running a handler);
 * a fan-out handler's letter names every instance of the handler instead (DeadLetter.replayFor).
 * A letter without a group, or one that never reached its topic (the outbox forwarder's), goes
 * to every group (no `replayFor`). Undefined for a poison letter (see replayRaw).
 */
export function replayEnvelope(letter: DeadLetter): Envelope | undefined {
  if (!letter.envelope) return undefined;
  return {
    ...letter.envelope,
    metadata: replayMetadata(letter.envelope.metadata, letter) as Envelope['metadata'],
  };
}

/**
 * The wire text a replay writes back for a poison letter that was not understood, with the
 * metadata of replayEnvelope. Only the outer JSON is rewritten: `data` keeps its exact text
 * (its checksum still holds) and unknown fields stay, so no type registry is needed. Undefined
 * for a letter that is not such poison (a malformed one, or one with an envelope).
 */
export function replayRaw(
  letter: DeadLetter,
): { raw: string; key: string; priority?: Priority } | undefined {
  if (letter.envelope || !isNotUnderstood(letter)) return undefined;
  const wire = parseWireEnvelope(letter.raw);
  if (!wire) return undefined;
  const metadata = replayMetadata(wire.metadata, letter);
  const priority = metadata.priority;
  return {
    raw: JSON.stringify({ ...wire, metadata }),
    key: typeof wire.aggregateId === 'string' ? wire.aggregateId : '',
    ...(typeof priority === 'string' && { priority: priority as Priority }),
  };
}

/** Why a letter can never be replayed, or undefined when it can be. */
function unreplayable(letter: DeadLetter): string | undefined {
  if (letter.envelope) return undefined;
  if (replayRaw(letter)) return undefined;
  return `malformed (${letter.errorName}): ${letter.reason}`;
}

/** Stats being counted letter by letter (a page at a time). */
export function emptyStats(): DeadLetterStats {
  return { total: 0, byTopic: {}, byReason: {} };
}

/** Counts one more letter into `stats`. */
export function countLetter(stats: DeadLetterStats, letter: DeadLetter): void {
  stats.total++;
  stats.byTopic[letter.originalTopic] = (stats.byTopic[letter.originalTopic] ?? 0) + 1;
  stats.byReason[letter.errorName] = (stats.byReason[letter.errorName] ?? 0) + 1;
}

export function computeStats(letters: Iterable<DeadLetter>): DeadLetterStats {
  const stats = emptyStats();
  for (const letter of letters) countLetter(stats, letter);
  return stats;
}

/**
 * Replays letters one by one: claim, publish to the original topic (an envelope, or the raw
 * text of poison that was not understood), then remove. A letter another replay holds (or
 * gone meanwhile) is passed over; one removed by someone else after its publish (a purge) is
 * not counted in `replayed`. A letter is removed only after its publish was accepted, so a
 * crash in between replays it twice (once its claim expired), never zero times. A malformed
 * letter is skipped (`skips` says why); a refused publish releases the claim, leaves the letter
 * where it is, is reported in `failed`, and the replay goes on — until REPLAY_STOP_AFTER
 * publishes in a row failed for the publisher's own reasons (`stopped`). An error of the
 * queue's store (claim, release, remove) rejects. Given the queue's `serializer`, each envelope
 * is read through it before its publish (upcastLetterEnvelope; a failure is the letter's).
 * `letters` may be read lazily (a page at a time); the result lists at most REPLAY_LISTED
 * failed and skipped letters, whatever their number.
 */
export async function replayLetters(
  letters: Iterable<DeadLetter> | AsyncIterable<DeadLetter>,
  publisher: Publisher,
  claims: ReplayClaims,
  serializer?: MessageSerializer,
): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: 0, skipped: 0, skips: [], failed: [], failures: 0 };
  let refusedInARow = 0;
  for await (const letter of letters) {
    const skip = unreplayable(letter);
    if (skip !== undefined) {
      if (++result.skipped <= REPLAY_LISTED) result.skips.push({ id: letter.id, reason: skip });
      continue;
    }
    if (!(await claims.claim(letter))) continue;
    try {
      await publishLetter(letter, publisher, serializer);
    } catch (error) {
      await claims.release(letter);
      const reason = describeError(error);
      if (++result.failures <= REPLAY_LISTED) result.failed.push({ id: letter.id, reason });
      if (isLetterError(error)) continue;
      if (++refusedInARow < REPLAY_STOP_AFTER) continue;
      result.stopped =
        `the publisher refused ${REPLAY_STOP_AFTER} letters in a row (the last: ${reason}); ` +
        'the letters after them were not tried and stay in the queue';
      break;
    }
    refusedInARow = 0;
    if (await claims.remove(letter)) result.replayed++;
  }
  return result;
}

async function publishLetter(
  letter: DeadLetter,
  publisher: Publisher,
  serializer: MessageSerializer | undefined,
): Promise<void> {
  const envelope = replayEnvelope(
    letter.envelope && serializer
      ? { ...letter, envelope: upcastLetterEnvelope(letter.envelope, serializer) }
      : letter,
  );
  if (envelope) return publisher.publish(letter.originalTopic, [envelope]);
  const wire = replayRaw(letter)!;
  const raw = (publisher as Partial<RawPublisher>).publishRaw;
  if (typeof raw !== 'function')
    throw new TypeError(
      'the publisher cannot write raw text (no publishRaw): a poison letter is replayed as ' +
        'its raw text; replay it through a Redis Streams, Kafka or in-memory publisher',
    );
  await raw.call(publisher, letter.originalTopic, wire.key, wire.raw, wire.priority);
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
