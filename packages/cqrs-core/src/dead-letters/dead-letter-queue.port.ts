import { type Envelope } from '../messages/envelope';
import { type Publisher } from '../transport/transport.port';

/** A message that could not be handled, with everything an operator needs to decide its fate. */
export interface DeadLetter {
  /** Assigned by the queue; stable until the letter is replayed or purged. */
  readonly id: string;
  /** The message; absent for poison (undecodable) messages, which keep `raw`. */
  readonly envelope?: Envelope;
  readonly raw?: string;
  readonly originalTopic: string;
  /** Where the message was in the broker (entry id, partition:offset). */
  readonly position: string;
  readonly group: string;
  /** Handler that gave up; `(decoder)` for poison. */
  readonly handler: string;
  /** The last error's message, or why decoding failed. */
  readonly reason: string;
  readonly errorName: string;
  readonly stack?: string;
  readonly attempts: number;
  /** ISO-8601. */
  readonly deadLetteredAt: string;
}

export type NewDeadLetter = Omit<DeadLetter, 'id'>;

/** Which letters an operation is about: every given field must match (an empty filter: all). */
export interface DeadLetterFilter {
  originalTopic?: string;
  handler?: string;
  type?: string;
  /** Substring of the reason. */
  reason?: string;
  /** Exactly these letters (ids the queue assigned); combined with the other fields. */
  ids?: readonly string[];
  /** At most this many letters, in list order. Selects nothing by itself. */
  limit?: number;
}

export interface DeadLetterStats {
  total: number;
  byTopic: Record<string, number>;
  /** Keyed by error name: counting free-text reasons would explode. */
  byReason: Record<string, number>;
}

export interface ReplayResult {
  replayed: number;
  /** Poison letters (no envelope) cannot be replayed; they stay. */
  skipped: number;
  /**
   * Letters whose publish was refused (an unknown type, a broker error): they stay in the queue,
   * and the replay went on with the next letter. `reason` is the error's name and message.
   */
  failed: ReplayFailure[];
}

export interface ReplayFailure {
  id: string;
  reason: string;
}

/**
 * Where dead letters go (S1-5), one stream per original topic, and what operators do with them.
 *
 * Contract: `add` is durable when it resolves (the message is acknowledged only after it);
 * `list`, `replay` and `purge` act on exactly the letters `filter` matches (`ids` included).
 * `replay` publishes each letter's envelope to its original topic with `retryCount` reset, and
 * removes the letter only after the publish was accepted — a crash in between replays it twice
 * (consumers deduplicate by messageId), never zero times. A letter whose publish is refused stays
 * and is reported in `failed`; the replay goes on with the next one. An error of the queue's own
 * store (list, remove) rejects the call: letters replayed before it are gone, the rest stay.
 * Not guarded against concurrent replays of the same letters (they may publish a letter twice).
 */
export interface DeadLetterQueue {
  add(letter: NewDeadLetter): Promise<string>;
  list(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  stats(): Promise<DeadLetterStats>;
  replay(filter: DeadLetterFilter, publisher: Publisher): Promise<ReplayResult>;
  /**
   * Removes the matching letters; returns how many. An empty filter purges everything (callers
   * facing users, like the admin endpoint, insist on an explicit `all`).
   */
  purge(filter: DeadLetterFilter): Promise<number>;
}

/** True when a letter matches a filter (all given fields must match). */
export function matchesFilter(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.ids && !filter.ids.includes(letter.id)) return false;
  if (filter.originalTopic && letter.originalTopic !== filter.originalTopic) return false;
  if (filter.handler && letter.handler !== filter.handler) return false;
  if (filter.type && letter.envelope?.type !== filter.type) return false;
  if (filter.reason && !letter.reason.includes(filter.reason)) return false;
  return true;
}

/** The envelope a replay publishes: same messageId (idempotency), retry count reset. */
export function replayEnvelope(letter: DeadLetter): Envelope | undefined {
  if (!letter.envelope) return undefined;
  return {
    ...letter.envelope,
    metadata: { ...letter.envelope.metadata, retryCount: 0, replayedFrom: letter.id },
  };
}

export function computeStats(letters: readonly DeadLetter[]): DeadLetterStats {
  const stats: DeadLetterStats = { total: letters.length, byTopic: {}, byReason: {} };
  for (const letter of letters) {
    stats.byTopic[letter.originalTopic] = (stats.byTopic[letter.originalTopic] ?? 0) + 1;
    stats.byReason[letter.errorName] = (stats.byReason[letter.errorName] ?? 0) + 1;
  }
  return stats;
}

/**
 * Replays letters one by one: publish to the original topic, then remove. A letter is removed
 * only after its publish was accepted, so a crash in between replays it twice, never zero times.
 * A refused publish leaves the letter where it is, is reported in `failed`, and the replay goes
 * on; an error of `remove` (the queue's store) rejects.
 */
export async function replayLetters(
  letters: readonly DeadLetter[],
  publisher: Publisher,
  remove: (letter: DeadLetter) => Promise<void>,
): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: 0, skipped: 0, failed: [] };
  for (const letter of letters) {
    const envelope = replayEnvelope(letter);
    if (!envelope) {
      result.skipped++;
      continue;
    }
    try {
      await publisher.publish(letter.originalTopic, [envelope]);
    } catch (error) {
      result.failed.push({ id: letter.id, reason: describeError(error) });
      continue;
    }
    await remove(letter);
    result.replayed++;
  }
  return result;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
