import { type Admin } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';

export interface KafkaGroupTopics {
  /** The Kafka group id: kafkaGroupId(group, topics, groupIdPrefix) of a Causeway subscription. */
  group: string;
  topics: readonly string[];
  /**
   * The subscription's startFrom. A 'latest' group's partition without a committed offset has
   * nothing pending (it starts at the end), so it counts 0 there; with 'earliest' (default)
   * everything retained is pending. Subscriptions commit a 'latest' start before joining
   * (commitLatestStart), so this matters only for groups started by older versions.
   */
  startFrom?: 'earliest' | 'latest';
}

/**
 * Messages not yet committed by each group, per topic: the sum over partitions of high watermark
 * − committed offset, the offset clamped to the low watermark (records deleted by retention or
 * deleteRecords are not pending). A partition without a committed offset counts from the low
 * watermark, or 0 for a 'latest' group (see KafkaGroupTopics.startFrom).
 */
export async function kafkaLag(
  admin: Admin,
  groups: readonly KafkaGroupTopics[],
): Promise<{ topic: string; group: string; lag: number }[]> {
  const rows: { topic: string; group: string; lag: number }[] = [];
  for (const { group, topics, startFrom } of groups) {
    const committed = await admin.fetchOffsets({ groupId: group, topics: [...topics] });
    for (const { topic, partitions } of committed) {
      const ends = await admin.fetchTopicOffsets(topic);
      let lag = 0;
      for (const end of ends) {
        const offset = Number(partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
        const high = Number(end.high);
        const low = Number(end.low);
        // -1: nothing committed yet: 'earliest' starts at the log start, 'latest' at the end.
        if (offset < 0) lag += startFrom === 'latest' ? 0 : high - low;
        else lag += Math.max(0, high - Math.max(offset, low));
      }
      rows.push({ topic, group, lag });
    }
  }
  return rows;
}

/** Registers `causeway_consumer_lag` (S1-10) for Kafka groups, computed at scrape time. */
export function registerKafkaLag(options: {
  admin: Admin;
  registry: Registry;
  groups: () => readonly KafkaGroupTopics[];
}): void {
  new Gauge({
    name: 'causeway_consumer_lag',
    help: 'Messages not yet committed by a consumer group',
    labelNames: ['topic', 'group'],
    registers: [options.registry],
    async collect() {
      this.reset();
      for (const row of await kafkaLag(options.admin, options.groups()))
        this.set({ topic: row.topic, group: row.group }, row.lag);
    },
  });
}
