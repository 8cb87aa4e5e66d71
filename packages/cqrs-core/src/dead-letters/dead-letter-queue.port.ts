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

export interface DeadLetterFilter {
  originalTopic?: string;
  handler?: string;
  type?: string;
  /** Substring of the reason. */
  reason?: string;
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
}

/**
 * Where dead letters go (S1-5), one stream per original topic, and what operators do with them.
 *
 * Contract: `add` is durable when it resolves (the message is acknowledged only after it);
 * `replay` publishes each letter's envelope to its original topic with `retryCount` reset, and
 * removes the letter only after the publish was accepted — a crash in between replays it twice
 * (consumers deduplicate by messageId), never zero times.
 */
export interface DeadLetterQueue {
  add(letter: NewDeadLetter): Promise<string>;
  list(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  stats(): Promise<DeadLetterStats>;
  replay(
    filter: DeadLetterFilter & { ids?: readonly string[] },
    publisher: Publisher,
  ): Promise<ReplayResult>;
  /** Removes the matching letters; returns how many. An empty filter purges everything. */
  purge(filter: DeadLetterFilter & { ids?: readonly string[] }): Promise<number>;
}

/** True when a letter matches a filter (all given fields must match). */
export function matchesFilter(
  letter: DeadLetter,
  filter: DeadLetterFilter & { ids?: readonly string[] },
): boolean {
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
 */
export async function replayLetters(
  letters: readonly DeadLetter[],
  publisher: Publisher,
  remove: (letter: DeadLetter) => Promise<void>,
): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: 0, skipped: 0 };
  for (const letter of letters) {
    const envelope = replayEnvelope(letter);
    if (!envelope) {
      result.skipped++;
      continue;
    }
    await publisher.publish(letter.originalTopic, [envelope]);
    await remove(letter);
    result.replayed++;
  }
  return result;
}
