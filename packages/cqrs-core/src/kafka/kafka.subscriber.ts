import {
  type DeliveryHandler,
  type SubscribeOptions,
  type Subscriber,
  type SubscriptionHandle,
} from '../transport/transport.port';
import { checkSubscribeOptions } from '../transport/subscribe-options.check';
import { checkTimings } from '../transport/timing-options.check';
import { checkCounts } from '../transport/count-options.check';
import { checkOptionsObject, checkSerializerOption } from '../transport/transport-options.check';
import { type HealthProbe } from '../health/health-probe.port';
import { checkKafkaClient, type KafkaClient } from './kafka.connection';
import { KafkaTransportClosedError } from './kafka.errors';
import { CLOSE_GRACE_MS, KAFKA_DEFAULTS, type KafkaSubscriberOptions } from './kafka.options';
import { KafkaSubscription } from './kafka.subscription';
import { checkInSyncReplicas, KAFKA_TOPIC_COUNTS, KafkaTopics } from './kafka.topics';
import { registerKafkaCodecs } from './kafka.codecs';

/**
 * Receives messages of Kafka topics through consumer groups: one kafkajs consumer per
 * subscribe() (see KafkaSubscription for commits, redelivery and shutdown).
 *
 * - Each message is delivered at least once per group; within a group a partition (and so an
 *   aggregate) is handled by one member at a time, in offset order.
 * - Competing consumers share `group`; fan-out gives every instance its own group.
 * - A member that dies (stops heartbeating for sessionTimeoutMs, or leaves) has its partitions
 *   handed to the others, which start at the last committed offset: its unacknowledged messages
 *   are delivered again, with the attempt count kept in the committed offset's marker.
 * - Topics are created before subscribing if they do not exist, and again when one is deleted
 *   while the subscription runs (its consumer crashes, and restarts once the topic is back: what
 *   is published to it then is delivered, from its start).
 * - Record batches compressed with gzip, snappy, lz4 or zstd are decoded (registerKafkaCodecs).
 * - A consumer that keeps crashing is restarted with backoff and reported to `onError`; probe()
 *   fails while one cannot make progress.
 */
export class KafkaSubscriber implements Subscriber {
  private readonly subscriptions = new Set<KafkaSubscription>();
  /** subscribe() calls not finished yet: close() waits for them (each then fails, or is closed). */
  private readonly starting = new Set<Promise<unknown>>();
  private readonly topics: KafkaTopics;
  private closed = false;
  /** What close() answers, every call alike. */
  private closing: Promise<void> | undefined;

  /**
   * @throws TypeError when `client` is no Kafka client (kafkaConnection(...).client), when
   *   `options` is no object or has no MessageSerializer as `serializer`
   * @throws TypeError naming `redeliveryDelayMs` or `closeTimeoutMs` when it is not a
   *   non-negative number of milliseconds (checkTimings): NaN fired at once (a close that
   *   abandoned its handlers, a failed message fetched again without a pause)
   * @throws TypeError naming `heartbeatIntervalMs`, `sessionTimeoutMs`, `rebalanceTimeoutMs`
   *   or `maxWaitTimeMs` when it is not a number of milliseconds as Kafka takes it (the last
   *   three whole): a NaN heartbeat interval never heartbeat, and the member was dropped from
   *   its group every session
   * @throws TypeError naming both when `heartbeatIntervalMs` is not below `sessionTimeoutMs`
   *   (either one's default counts): kafkajs refused it at each subscribe(), which the Router
   *   retried for ever
   * @throws TypeError naming `unhealthyAfterCrashes`, `maxMessageBytes`, `partitions`,
   *   `replicationFactor` or `minInSyncReplicas` when it is not a positive integer: a NaN
   *   `unhealthyAfterCrashes` failed probe() from the start (the topic settings: see
   *   KAFKA_TOPIC_COUNTS)
   * @throws TypeError naming both when `minInSyncReplicas` is above `replicationFactor` (either
   *   one's default counts): no topic has more replicas in sync than it has
   *   (checkInSyncReplicas)
   */
  constructor(
    private readonly client: KafkaClient,
    private readonly options: KafkaSubscriberOptions,
  ) {
    checkKafkaClient('KafkaSubscriber', client);
    checkOptionsObject('KafkaSubscriber', options, ' with a serializer ({ serializer })');
    checkSerializerOption('KafkaSubscriber', options.serializer);
    checkTimings('KafkaSubscriber', options as unknown as Record<string, unknown>, {
      redeliveryDelayMs: { zero: true, timer: true },
      closeTimeoutMs: { zero: true, timer: true },
      heartbeatIntervalMs: { timer: true },
      // Sent to Kafka as 32-bit integers.
      sessionTimeoutMs: { whole: true, timer: true },
      rebalanceTimeoutMs: { whole: true, timer: true },
      maxWaitTimeMs: { zero: true, whole: true, timer: true },
    });
    checkHeartbeat(options);
    checkCounts('KafkaSubscriber', options as unknown as Record<string, unknown>, [
      'unhealthyAfterCrashes',
      'maxMessageBytes',
      ...KAFKA_TOPIC_COUNTS,
    ]);
    checkInSyncReplicas('KafkaSubscriber', options);
    this.topics = new KafkaTopics(client.admin, options);
    registerKafkaCodecs(); // also for a KafkaClient built without kafkaConnection()
  }

  decodes(type: string): boolean {
    return this.options.serializer.has?.(type) ?? true;
  }

  async subscribe(
    topics: readonly string[],
    options: SubscribeOptions,
    handler: DeliveryHandler,
  ): Promise<SubscriptionHandle> {
    if (this.closed) throw new KafkaTransportClosedError('subscriber');
    checkSubscribeOptions('KafkaSubscriber.subscribe', topics, options);
    const started = this.start(topics, options, handler);
    this.starting.add(started);
    try {
      return await started;
    } finally {
      this.starting.delete(started);
    }
  }

  /**
   * Creates the topics, then the subscription. A close() meanwhile (it waits for this) makes it
   * fail with KafkaTransportClosedError: before the subscription exists, nothing was started;
   * after, close() closes it with the others (a review, session 35: it went on consuming after
   * close() resolved).
   */
  private async start(
    topics: readonly string[],
    options: SubscribeOptions,
    handler: DeliveryHandler,
  ): Promise<SubscriptionHandle> {
    await this.topics.ensure(topics);
    if (this.closed) throw new KafkaTransportClosedError('subscriber');
    const subscription: KafkaSubscription = new KafkaSubscription(
      this.client.kafka,
      this.client.admin,
      topics,
      options,
      handler,
      this.options,
      () => this.subscriptions.delete(subscription),
      this.topics,
    );
    this.subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      await subscription.kill().catch(() => undefined);
      throw error;
    }
    if (this.closed) throw new KafkaTransportClosedError('subscriber');
    return subscription;
  }

  /**
   * A readiness probe (critical) that every subscription of this subscriber makes progress: it
   * fails, naming each stuck subscription's Kafka group, topics and last error, while its
   * consumer has crashed `unhealthyAfterCrashes` times in a row without handling a batch or
   * completing an empty fetch (a record batch it cannot decode, a broker refusing it). Answers
   * from memory: no broker round trip (kafkaConnection's own probe checks the broker answers).
   * Register it with the service's probes.
   */
  probe(name = 'kafka-consumers'): HealthProbe & { critical: true } {
    return {
      name,
      critical: true,
      check: async () => {
        const problems = [...this.subscriptions]
          .map((subscription) => subscription.problem())
          .filter((problem): problem is string => problem !== undefined);
        if (problems.length > 0) throw new Error(`cannot make progress: ${problems.join('; ')}`);
      },
    };
  }

  /**
   * Closes every subscription: deliveries in flight finish and are committed first, for at most
   * `closeTimeoutMs`; the ones still running then are abandoned uncommitted (redelivered to the
   * group's next owner of their partition). Resolves within `closeTimeoutMs` + CLOSE_GRACE_MS
   * (1 s), also while a rebalance holds a member's join or a subscribe() in progress: that
   * subscribe() fails with KafkaTransportClosedError (possibly after close() resolved, once the
   * broker answers its join), and its member leaves the group without delivering anything.
   * Every call answers with the first one's promise: a later call waits for no second bound.
   */
  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    this.closed = true;
    // Every subscription a subscribe() in progress will make exists already (made right after
    // the check of `closed` that follows the topics' creation): close them all now, those still
    // joining their group included, rather than wait for their join first (a rebalance holds it
    // for up to rebalanceTimeoutMs). A subscribe() still creating its topics makes none; it is
    // waited for within the same bound.
    const boundMs = (this.options.closeTimeoutMs ?? KAFKA_DEFAULTS.closeTimeoutMs) + CLOSE_GRACE_MS;
    let timer: NodeJS.Timeout | undefined;
    const overdue = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, boundMs);
    });
    try {
      await Promise.all([
        ...[...this.subscriptions].map((subscription) => subscription.close()),
        Promise.race([Promise.allSettled([...this.starting]), overdue]),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Simulates the death of this process (tests): deliveries in flight are abandoned without
   * being committed, and every member leaves its group, which then redelivers them.
   */
  async kill(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.starting]);
    await Promise.all([...this.subscriptions].map((subscription) => subscription.kill()));
  }
}

/**
 * The heartbeat must come more often than the session times out; kafkajs refuses the pair only
 * when a subscribe() builds its consumer, in its own option names (session 46).
 * @throws TypeError naming both settings, their values, and which one is the default
 */
function checkHeartbeat(options: KafkaSubscriberOptions): void {
  const shown = (name: 'heartbeatIntervalMs' | 'sessionTimeoutMs') =>
    options[name] === undefined ? `${KAFKA_DEFAULTS[name]}, the default` : String(options[name]);
  const heartbeat = options.heartbeatIntervalMs ?? KAFKA_DEFAULTS.heartbeatIntervalMs;
  const session = options.sessionTimeoutMs ?? KAFKA_DEFAULTS.sessionTimeoutMs;
  if (heartbeat < session) return;
  throw new TypeError(
    `KafkaSubscriber: options.heartbeatIntervalMs (${shown('heartbeatIntervalMs')}) must be ` +
      `below options.sessionTimeoutMs (${shown('sessionTimeoutMs')}): a member heartbeats every ` +
      'heartbeatIntervalMs, and the broker drops one silent for sessionTimeoutMs (keep the ' +
      'heartbeat below a third of it)',
  );
}
