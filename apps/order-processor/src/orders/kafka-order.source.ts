import { contractsSerializer } from '@causeway/contracts';
import { type ManagedConnection, poisonToDeadLetters, type Publisher } from '@causeway/cqrs-core';
import { TracedPublisher } from '@causeway/cqrs-core/opentelemetry';
import {
  type KafkaClient,
  kafkaGroupId,
  kafkaLag,
  KafkaPublisher,
  KafkaSubscriber,
  registerKafkaLag,
} from '@causeway/cqrs-core/kafka';
import { type Registry } from 'prom-client';
import { type OrderSourceFactory } from './order.source';

export interface KafkaOrderSourceOptions {
  kafka: ManagedConnection<KafkaClient>;
  /** Kafka group ids start with it (a deployment's TOPIC_PREFIX): deployments share no group. */
  groupIdPrefix: string;
  /** Partitions of the topic when the consumer creates it. */
  partitions: number;
  /**
   * Longest an order is kept on the topic when the consumer creates it (PROGRESS_HISTORY_TTL_MS):
   * an order names its user and items, and no copy of a task's data outlives that TTL (S3-7).
   */
  retentionMs: number;
  /**
   * The broker drops a member silent for this long (ORDER_CONSUMER_SESSION_TIMEOUT_MS): a member
   * that died holds up every join of the group until then. Heartbeats every tenth of it.
   */
  sessionTimeoutMs: number;
  /** Gets the group's lag gauge (causeway_consumer_lag). */
  registry: Registry;
  /**
   * How long the subscriber's close waits for orders still being handled
   * (subscriptionCloseTimeoutMs of SHUTDOWN_TIMEOUT_MS, less CLOSE_GRACE_MS): it then commits
   * what finished and leaves the group before the shutdown timeout ends the process. Default the subscriber's, 25 s:
   * longer than the default SHUTDOWN_TIMEOUT_MS (10 s), which then ended the process first —
   * exit code 1, nothing committed since the last commit, and the partitions held until the
   * member's session timed out.
   */
  closeTimeoutMs?: number;
}

/** How long GET /monitor waits for Kafka's figures of the group's lag (as a /metrics scrape). */
export const LAG_TIMEOUT_MS = 2_000;

/**
 * Orders from Kafka (the distributed system, ADR 015): a KafkaSubscriber in the competing group
 * `<groupIdPrefix><service>.orders` (the app passes TOPIC_PREFIX and a dot, docs/operations.md:
 * `P.order-processor.orders`), undecodable orders to the dead letters, the group's lag read from
 * Kafka (GET /monitor and the lag gauge) and the subscriber's probe `kafka-consumers` (a
 * consumer that keeps crashing) in readiness.
 */
export function kafkaOrderSource(options: KafkaOrderSourceOptions): OrderSourceFactory {
  return ({ topic, group, deadLetters, onError }) => {
    const subscriber = new KafkaSubscriber(options.kafka.client, {
      serializer: contractsSerializer(),
      partitions: options.partitions,
      retentionMs: options.retentionMs,
      groupIdPrefix: options.groupIdPrefix,
      sessionTimeoutMs: options.sessionTimeoutMs,
      heartbeatIntervalMs: Math.max(500, Math.floor(options.sessionTimeoutMs / 10)),
      onPoison: poisonToDeadLetters(deadLetters, { registry: options.registry }),
      onError,
      ...(options.closeTimeoutMs !== undefined && { closeTimeoutMs: options.closeTimeoutMs }),
    });
    const groups = [{ group: kafkaGroupId(group, options.groupIdPrefix), topics: [topic] }];
    registerKafkaLag({
      admin: options.kafka.client.admin,
      registry: options.registry,
      groups: () => groups,
    });
    // One question to Kafka at a time: reads while it is unanswered wait for that one.
    let asking: Promise<number | undefined> | undefined;
    return {
      subscriber,
      group: groups[0]!.group,
      probe: subscriber.probe('kafka-consumers'),
      system: 'kafka',
      // Kafka's answer, or undefined (GET /monitor's null) when it refuses or does not answer
      // within LAG_TIMEOUT_MS: kafkajs retries an unanswered request for 10 s and more, which
      // held every /monitor read that long while a broker hung.
      lag: async () => {
        asking ??= kafkaLag(options.kafka.client.admin, groups)
          .then(
            (rows) => rows.reduce((sum, row) => sum + row.lag, 0),
            () => undefined,
          )
          .finally(() => (asking = undefined));
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), LAG_TIMEOUT_MS);
          timer.unref();
        });
        try {
          return await Promise.race([asking, late]);
        } finally {
          clearTimeout(timer);
        }
      },
    };
  };
}

/**
 * What /admin/dead-letters replays the order topic's dead letters through (issue 4: "to the
 * original topic"); its producer connects at the first replay. When the broker does not have the
 * topic (deleted since the consumer made it, or never made), it creates it as the consumer does:
 * `partitions` (ORDER_TOPIC_PARTITIONS) and `retentionMs` (PROGRESS_HISTORY_TTL_MS). With
 * Kafka's defaults, orders — a user and their items — outlived the TTL by the broker's 7 days.
 *
 * Traced as the bus's replays are (TracedPublisher, `send <topic>` spans of `messaging.system`
 * kafka): a letter without trace context (dead-lettered while tracing was off) goes out in a new
 * trace, its delivery the send's child; one with a trace goes on in it. Bare, the first was
 * replayed with none: its delivery began a trace of its own, the replay nowhere in it.
 */
export function kafkaOrderReplays(
  kafka: ManagedConnection<KafkaClient>,
  topic: Pick<KafkaOrderSourceOptions, 'partitions' | 'retentionMs'>,
): Publisher {
  return new TracedPublisher(
    new KafkaPublisher(kafka.client, {
      serializer: contractsSerializer(),
      partitions: topic.partitions,
      retentionMs: topic.retentionMs,
    }),
    { system: 'kafka' },
  );
}
