import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type KafkaMessage,
} from 'kafkajs';
import {
  type Delivery,
  type DeliveryHandler,
  type SubscribeOptions,
  type SubscriptionHandle,
} from '../transport/transport.port';
import { decodeFromWire, UndecodableMessageError } from '../transport/wire.codec';
import { attemptMarker, DeliveryAttempts } from './kafka.attempts';
import { ConsumerSupervisor } from './kafka.consumer-supervisor';
import {
  KAFKA_DEFAULTS,
  type KafkaSubscriberOptions,
  RECORD_OVERHEAD_BYTES,
} from './kafka.options';

type Outcome = 'acked' | 'nacked' | 'abandoned';

/** Heartbeat errors after which kafkajs re-joins the group: this member may lose partitions. */
const GROUP_CHANGING = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'NOT_COORDINATOR_FOR_GROUP',
  'FENCED_INSTANCE_ID',
]);

/**
 * One subscribe() call: one kafkajs consumer in group `<groupIdPrefix><group>`.
 *
 * Commits. kafkajs runs `eachBatch` once per fetched partition batch, partitions concurrently
 * (up to maxInFlight), and fetches again only when every batch of the round has returned — so
 * a batch's messages are handled one after another (per-key order), and a rebalance waits for
 * the batches in progress. Auto-commit is off; we commit each message's next offset ourselves,
 * right after its handler resolved, through the batch's own commit call (which still works
 * while the consumer stops, so close() can commit what finishes). Before a message is handed
 * over, the committed offset carries an attempt marker (see kafka.attempts): usually folded
 * into the previous message's commit, so a message costs one commit, plus one per batch.
 *
 * Nacks. A failed handler never throws into kafkajs (kafkajs would re-deliver at once, forever).
 * The partition is paused and the batch returns without resolving the message; after
 * `redeliveryDelayMs` the partition resumes and the same message is fetched again with
 * attempt + 1 — the partition waits, later messages stay behind it, other partitions go on.
 *
 * Hazards. A handler that runs longer than rebalanceTimeoutMs while the group rebalances gets
 * its member dropped; its commit is then refused and the message redelivered elsewhere.
 * A partition's next fetch waits for the slowest batch of the round (kafkajs's fetch loop).
 */
export class KafkaSubscription implements SubscriptionHandle {
  private readonly consumer: Consumer;
  private readonly attempts: DeliveryAttempts;
  private readonly supervisor: ConsumerSupervisor;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly heartbeatIntervalMs: number;
  private stopping = false;
  private killed = false;
  /** A heartbeat said the group is changing: finish the message in hand, commit, stop the batch. */
  private unsettled = false;
  /** One per delivery in flight: kill() settles them (one shared promise would pile up reactions). */
  private readonly abandonHooks = new Set<() => void>();
  private stopped: Promise<void> | undefined;

  constructor(
    kafka: Kafka,
    admin: Admin,
    private readonly topics: readonly string[],
    private readonly subscription: SubscribeOptions,
    private readonly handler: DeliveryHandler,
    private readonly options: KafkaSubscriberOptions,
    private readonly onStopped: () => void,
  ) {
    const groupId = `${options.groupIdPrefix ?? ''}${subscription.group}`;
    const maxMessageBytes = options.maxMessageBytes ?? KAFKA_DEFAULTS.maxMessageBytes;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? KAFKA_DEFAULTS.heartbeatIntervalMs;
    this.attempts = new DeliveryAttempts(admin, groupId);
    this.consumer = kafka.consumer({
      groupId,
      sessionTimeout: options.sessionTimeoutMs ?? KAFKA_DEFAULTS.sessionTimeoutMs,
      rebalanceTimeout: options.rebalanceTimeoutMs ?? KAFKA_DEFAULTS.rebalanceTimeoutMs,
      heartbeatInterval: this.heartbeatIntervalMs,
      maxWaitTimeInMs: options.maxWaitTimeMs ?? KAFKA_DEFAULTS.maxWaitTimeMs,
      // A batch may hold a message at the size limit (Kafka returns an oversized first batch anyway).
      maxBytesPerPartition: Math.max(1_048_576, maxMessageBytes + RECORD_OVERHEAD_BYTES),
      allowAutoTopicCreation: false,
    });
    const { GROUP_JOIN, HEARTBEAT } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, () => {
      this.attempts.newGeneration();
      this.unsettled = false;
    });
    this.consumer.on(HEARTBEAT, () => {
      this.unsettled = false;
    });
    this.supervisor = new ConsumerSupervisor(this.consumer, async () => {
      await this.consumer.connect();
      await this.run();
    });
  }

  /** Connects, joins the group and starts delivering; resolves once the member has its partitions. */
  async start(): Promise<void> {
    const latest = this.subscription.startFrom === 'latest';
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.topics], fromBeginning: !latest });
    // A new group's 'latest' is looked up at the first fetch after the join: wait for it, so that
    // what is published after subscribe() resolves is delivered. (With several brokers this waits
    // for the first broker's fetch only.)
    const firstFetch = latest ? this.nextFetch() : Promise.resolve();
    await this.run();
    await firstFetch;
  }

  private run(): Promise<void> {
    return this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.subscription.maxInFlight ?? KAFKA_DEFAULTS.maxInFlight,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  /** Stops fetching, lets deliveries in flight finish and commit, leaves the group, disconnects. */
  close(): Promise<void> {
    this.stopping = true;
    return this.stop();
  }

  /**
   * Simulates a crash: deliveries in flight are abandoned unacknowledged (their late results are
   * ignored) and the member disconnects, so the group's next owner gets them again.
   */
  kill(): Promise<void> {
    this.killed = true;
    for (const abandon of this.abandonHooks) abandon();
    return this.stop();
  }

  private stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.stopped ??= this.supervisor
      .stop()
      .then(() => this.consumer.disconnect())
      .finally(this.onStopped);
    return this.stopped;
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { topic, partition, messages } = payload.batch;
    const heartbeat = setInterval(() => {
      payload.heartbeat().catch((error: unknown) => {
        if (GROUP_CHANGING.has((error as { type?: string }).type ?? '')) this.unsettled = true;
      });
    }, this.heartbeatIntervalMs);
    try {
      let attempt = 0; // > 0: the committed offset already marks this message's delivery
      for (let index = 0; index < messages.length; index++) {
        const message = messages[index]!;
        if (attempt === 0) {
          if (this.mustStop(payload)) return;
          attempt = await this.attempts.begin(topic, partition, message.offset, index === 0);
          await this.commit(payload, message.offset, attempt);
        }
        const outcome = await this.deliver(topic, partition, message, attempt);
        if (outcome === 'abandoned') return;
        if (outcome === 'nacked') {
          if (!this.mustStop(payload)) this.redeliverLater(payload);
          return; // not resolved: the next fetch of this partition starts at this message
        }
        this.attempts.settle(topic, partition, message.offset);
        payload.resolveOffset(message.offset);
        const next = messages[index + 1];
        attempt =
          next && !this.mustStop(payload)
            ? this.attempts.beginNext(topic, partition, next.offset)
            : 0;
        await this.commit(payload, (BigInt(message.offset) + 1n).toString(), attempt);
        if (attempt === 0) return;
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  private mustStop(payload: EachBatchPayload): boolean {
    return (
      this.stopping || this.killed || this.unsettled || !payload.isRunning() || payload.isStale()
    );
  }

  private async deliver(
    topic: string,
    partition: number,
    message: KafkaMessage,
    attempt: number,
  ): Promise<Outcome> {
    if (this.killed) return 'abandoned';
    let abandon!: () => void;
    const abandoned = new Promise<Outcome>((resolve) => {
      abandon = () => resolve('abandoned');
    });
    this.abandonHooks.add(abandon);
    try {
      const outcome = await Promise.race([
        this.handle(topic, partition, message, attempt),
        abandoned,
      ]);
      return this.killed ? 'abandoned' : outcome;
    } finally {
      this.abandonHooks.delete(abandon);
    }
  }

  private async handle(
    topic: string,
    partition: number,
    message: KafkaMessage,
    attempt: number,
  ): Promise<Outcome> {
    const position = `${partition}:${message.offset}`;
    const group = this.subscription.group;
    const raw = message.value?.toString('utf8') ?? '';
    try {
      let delivery: Delivery;
      try {
        const envelope = decodeFromWire(this.options.serializer, raw);
        delivery = { topic, envelope, attempt, position, group };
      } catch (error) {
        if (!(error instanceof UndecodableMessageError)) throw error;
        await this.options.onPoison?.({ topic, position, group, raw, reason: error.reason });
        return 'acked';
      }
      await this.handler(delivery);
      return 'acked';
    } catch {
      return 'nacked';
    }
  }

  /** Pauses the partition; it resumes after the redelivery delay and refetches the nacked message. */
  private redeliverLater(payload: EachBatchPayload): void {
    const resume = payload.pause();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      resume();
    }, this.options.redeliveryDelayMs ?? KAFKA_DEFAULTS.redeliveryDelayMs);
    this.timers.add(timer);
  }

  /**
   * Commits `offset` of the batch's partition: the first message not yet acknowledged. With
   * `attempt` > 0 the message at `offset` is being delivered for that time (the marker).
   * Retried briefly; a commit that keeps failing throws into kafkajs, which re-joins or
   * restarts the consumer and fetches again from what is committed (at-least-once).
   */
  private async commit(payload: EachBatchPayload, offset: string, attempt: number): Promise<void> {
    const { topic, partition } = payload.batch;
    const metadata = attempt > 0 ? attemptMarker(attempt) : null;
    for (let retry = 0; ; retry++) {
      try {
        await payload.commitOffsetsIfNecessary({
          // kafkajs sends `metadata` (OffsetCommit's field) although its type omits it.
          topics: [
            {
              topic,
              partitions: [
                { partition, offset, metadata } as { partition: number; offset: string },
              ],
            },
          ],
        });
        return;
      } catch (error) {
        if (this.killed) return;
        // Not retriable: a stale generation or a lost member; kafkajs re-joins on the rethrow.
        if (retry >= 2 || (error as { retriable?: boolean }).retriable === false) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * (retry + 1)));
      }
    }
  }

  private nextFetch(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        off();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      const off = this.consumer.on(this.consumer.events.FETCH, done);
    });
  }
}
