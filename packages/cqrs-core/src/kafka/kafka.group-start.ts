import { type Admin } from 'kafkajs';

/** A start position committed by commitLatestStart. */
export interface CommittedStart {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/**
 * Makes the start of a 'latest' group durable: before its member joins, every topic-partition
 * the group has no committed offset for gets the partition's current end (high watermark)
 * committed. Without it kafkajs resolves 'latest' in memory at each join, so a group restarted
 * before its first commit on a partition skipped what was published in between, and
 * kafkaLag counted the partition's whole history as its lag.
 *
 * Runs after seedFromPredecessors (a seeded partition keeps its seeded offset). Does nothing
 * when the group has members (kafkajs's setOffsets needs an empty group): a running member
 * already holds its positions. Only for 'latest': an 'earliest' group without commits starts at
 * the log start, which is what kafkaLag counts for it.
 * @returns the positions it committed
 */
export async function commitLatestStart(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<CommittedStart[]> {
  const committed: CommittedStart[] = [];
  const own = await admin.fetchOffsets({ groupId, topics: [...new Set(topics)] });
  for (const { topic, partitions } of own) {
    const missing = new Set(
      partitions.filter(({ offset }) => !isCommitted(offset)).map(({ partition }) => partition),
    );
    if (missing.size === 0) continue;
    const ends = await admin.fetchTopicOffsets(topic);
    const starts = ends
      .filter(({ partition }) => missing.has(partition))
      .map(({ partition, high }) => ({ partition, offset: high }));
    try {
      await admin.setOffsets({ groupId, topic, partitions: starts });
    } catch (error) {
      if (isGroupActive(error)) return committed;
      throw error;
    }
    committed.push(...starts.map((start) => ({ topic, ...start })));
  }
  return committed;
}

function isCommitted(offset: string): boolean {
  return /^\d+$/.test(offset);
}

/** kafkajs's setOffsets refuses a group with members ("must have no running instances"). */
function isGroupActive(error: unknown): boolean {
  return /no running instances/i.test((error as Error | undefined)?.message ?? '');
}
