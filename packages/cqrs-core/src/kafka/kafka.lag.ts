import { type Admin } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';

export interface KafkaGroupTopics {
  /** The Kafka group id: kafkaGroupId(group, topics, groupIdPrefix) of a Causeway subscription. */
  group: string;
  topics: readonly string[];
}

/** Messages not yet committed by each group, per topic: high watermark − committed offset. */
export async function kafkaLag(
  admin: Admin,
  groups: readonly KafkaGroupTopics[],
): Promise<{ topic: string; group: string; lag: number }[]> {
  const rows: { topic: string; group: string; lag: number }[] = [];
  for (const { group, topics } of groups) {
    const committed = await admin.fetchOffsets({ groupId: group, topics: [...topics] });
    for (const { topic, partitions } of committed) {
      const ends = await admin.fetchTopicOffsets(topic);
      let lag = 0;
      for (const end of ends) {
        const offset = Number(partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
        // -1: nothing committed yet; the whole partition (from its low watermark) is lag.
        lag += Number(end.high) - (offset >= 0 ? offset : Number(end.low));
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
