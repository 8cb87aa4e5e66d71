import { type Admin } from 'kafkajs';
import { type Registry } from 'prom-client';
import { addConsumerLagSource, type LagRow } from '../metrics/consumer-lag.gauge';

export interface KafkaGroupTopics {
  /** The Kafka group id: kafkaGroupId(group, groupIdPrefix) of a Causeway subscription. */
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

/**
 * Adds Kafka groups to `causeway_consumer_lag` (S1-10), computed at scrape time, in the
 * registry's one gauge of that name (with registerRedisStreamsLag's groups, if any). A scrape
 * waits at most `timeoutMs` (default 2 000) for the brokers' answers; brokers that refuse or do
 * not answer in time leave the last figures (as the Redis gauges do), so an outage neither
 * fails nor stalls the scrape, nor drops the series (the lag alerts would resolve): it is
 * causeway_connection_up's and /health/ready's to report. One query at a time: a scrape while
 * one is unanswered waits for that one.
 */
export function registerKafkaLag(options: {
  admin: Admin;
  registry: Registry;
  groups: () => readonly KafkaGroupTopics[];
  timeoutMs?: number;
}): void {
  const timeoutMs = options.timeoutMs ?? 2_000;
  let last: LagRow[] = [];
  let running: Promise<void> | undefined;
  addConsumerLagSource(options.registry, async () => {
    running ??= kafkaLag(options.admin, options.groups())
      .then(
        (rows) => void (last = rows),
        () => undefined,
      )
      .finally(() => (running = undefined));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      running,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    return last;
  });
}
