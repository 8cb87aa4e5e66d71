import { type Admin } from 'kafkajs';
import { type Registry } from 'prom-client';
import { addConsumerLagSource, type LagRow } from '../metrics/consumer-lag.gauge';
import { hasErrorType } from './kafka.error-causes';

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

/** Whether the broker answered that it does not have the topic (deleted, or never created). */
function isTopicGone(error: unknown): boolean {
  return hasErrorType(error, 'UNKNOWN_TOPIC_OR_PARTITION');
}

/** What kafkaLag's queries answered, and the (group, topic) pairs whose query failed. */
interface KafkaLagAnswer {
  rows: LagRow[];
  failed: { group: string; topic: string; error: unknown }[];
}

/**
 * Messages not yet committed by each group, per topic: the sum over partitions of high watermark
 * − committed offset, the offset clamped to the low watermark (records deleted by retention or
 * deleteRecords are not pending). A partition without a committed offset counts from the low
 * watermark, or 0 for a 'latest' group (see KafkaGroupTopics.startFrom).
 *
 * Each group's topics are asked on their own, all at once: a query that fails (a topic the broker
 * does not have, a group whose coordinator is moving) leaves out that group's row for that topic
 * only. Before, the first failure rejected the whole answer, hiding every other group (session 47).
 * @throws Error naming each group and topic and the first cause, when no query was answered
 */
export async function kafkaLag(
  admin: Admin,
  groups: readonly KafkaGroupTopics[],
): Promise<LagRow[]> {
  const { rows, failed } = await readKafkaLag(admin, groups);
  if (rows.length === 0 && failed.length > 0) {
    const what = failed.map(({ group, topic }) => `group "${group}" topic "${topic}"`);
    throw new Error(
      `cannot read the Kafka lag of ${what.join(', ')}: ${
        (failed[0]!.error as Error | undefined)?.message ?? String(failed[0]!.error)
      }`,
      { cause: failed[0]!.error },
    );
  }
  return rows;
}

async function readKafkaLag(
  admin: Admin,
  groups: readonly KafkaGroupTopics[],
): Promise<KafkaLagAnswer> {
  // A topic's watermarks, asked once however many groups read it.
  const watermarks = new Map<string, ReturnType<Admin['fetchTopicOffsets']>>();
  const ends = (topic: string) => {
    let answer = watermarks.get(topic);
    if (!answer) {
      answer = admin.fetchTopicOffsets(topic);
      answer.catch(() => undefined); // awaited by each group that reads the topic
      watermarks.set(topic, answer);
    }
    return answer;
  };
  const queries = groups.flatMap(({ group, topics, startFrom }) =>
    topics.map(async (topic): Promise<LagRow> => {
      // Offsets first: it fails at once for a topic the broker does not have, where kafkajs's
      // fetchTopicOffsets retries for seconds (and would outlive the answer).
      const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const offsets = await ends(topic);
      const partitions = committed.find((entry) => entry.topic === topic)?.partitions ?? [];
      let lag = 0;
      for (const end of offsets) {
        const offset = Number(partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
        const high = Number(end.high);
        const low = Number(end.low);
        // -1: nothing committed yet: 'earliest' starts at the log start, 'latest' at the end.
        if (offset < 0) lag += startFrom === 'latest' ? 0 : high - low;
        else lag += Math.max(0, high - Math.max(offset, low));
      }
      return { topic, group, lag };
    }),
  );
  const pairs = groups.flatMap(({ group, topics }) => topics.map((topic) => ({ group, topic })));
  const answer: KafkaLagAnswer = { rows: [], failed: [] };
  (await Promise.allSettled(queries)).forEach((settled, index) => {
    if (settled.status === 'fulfilled') answer.rows.push(settled.value);
    else answer.failed.push({ ...pairs[index]!, error: settled.reason });
  });
  return answer;
}

/**
 * Adds Kafka groups to `causeway_consumer_lag` (S1-10), computed at scrape time, in the
 * registry's one gauge of that name (with registerRedisStreamsLag's groups, if any). A scrape
 * waits at most `timeoutMs` (default 2 000) for the brokers' answers; brokers that refuse or do
 * not answer in time leave the last figures (as the Redis gauges do), so an outage neither
 * fails nor stalls the scrape, nor drops the series (the lag alerts would resolve): it is
 * causeway_connection_up's and /health/ready's to report. Likewise a group whose figures for a
 * topic cannot be read keeps its last ones, while the other groups' are new (see kafkaLag) —
 * except for a topic the broker answers it does not have (UNKNOWN_TOPIC_OR_PARTITION: deleted):
 * its series are dropped, and come back with the topic.
 * One query at a time: a scrape while one is unanswered waits for that one.
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
    running ??= readKafkaLag(options.admin, options.groups())
      .then(
        ({ rows, failed }) => {
          // A topic the broker no longer has (deleted) is no outage: its series go, or they
          // stayed for as long as the process lived (session 48).
          const kept = last.filter((row) =>
            failed.some(
              ({ group, topic, error }) =>
                row.group === group && row.topic === topic && !isTopicGone(error),
            ),
          );
          last = [...rows, ...kept];
        },
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
