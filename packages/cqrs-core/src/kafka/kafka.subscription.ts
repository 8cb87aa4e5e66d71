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
import { warnOfPoison } from '../transport/poison.warning';
import { kafkaGroupId } from './kafka.group';
import { subscriptionAwareAssigner } from './kafka.assigner';
import { seedFromPredecessors } from './kafka.group-seed';
import { commitLatestStart } from './kafka.group-start';
import {
  KafkaConsumerCrashError,
  KafkaGroupSeedError,
  KafkaTransportClosedError,
  missingTopicsText,
} from './kafka.errors';
import { DeliveryAttempts } from './kafka.attempts';
import { BatchCommits } from './kafka.commits';
import { ConsumerSupervisor } from './kafka.consumer-supervisor';
import { type KafkaTopics } from './kafka.topics';
import {
  CLOSE_GRACE_MS,
  KAFKA_DEFAULTS,
  type KafkaSubscriberOptions,
  RECORD_OVERHEAD_BYTES,
} from './kafka.options';
import { hasErrorType } from './kafka.error-causes';

type Outcome = 'acked' | 'nacked' | 'abandoned';

/** Longest start() waits for seeding a new group from its predecessors before going on without. */
const SEED_TIMEOUT_MS = 30_000;

/** Heartbeat errors after which kafkajs re-joins the group: this member may lose partitions. */
const GROUP_CHANGING = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'NOT_COORDINATOR_FOR_GROUP',
  'FENCED_INSTANCE_ID',
]);

/**
 * One subscribe() call: one kafkajs consumer in the Kafka group kafkaGroupId(group), dealt its
 * partitions by the subscription-aware assigner (kafka.assigner): members of the group may
 * subscribe different topics.
 *
 * Commits. kafkajs runs `eachBatch` once per fetched partition batch, partitions concurrently
 * (up to maxInFlight), and fetches again only when every batch of the round has returned — so
 * a batch's messages are handled one after another (per-key order), and a rebalance waits for
 * the batches in progress. Auto-commit is off; a message is resolved right after its handler
 * resolved, and commits go out behind the deliveries (kafka.commits): never awaited between
 * two messages, at most one in flight per batch, each carrying the newest position — the next
 * message's offset, with that message's attempt marker (kafka.attempts) once its delivery has
 * started. A quiet partition thus commits each message right after its handler; a busy one
 * commits every round trip + 20 ms, for all messages handled meanwhile. Through the batch's own
 * commit call (which still works while the consumer stops), the batch waits for its last
 * commit before it returns, so what succeeded is committed before a partition is given up on
 * rebalance or close. The first delivery on a partition after each (re)join waits for its
 * marker (written durably before the handler runs); later ones only send theirs as they start.
 *
 * Trade-off. After a crash (or kill()), messages handled but not yet committed — at most the
 * ones handled during the last commit's round trip + 20 ms — are delivered again (at-least-once
 * allows it). Their attempt number may then not grow: only the message at the committed offset
 * is counted from its marker (+1, even if it had succeeded); the others start again at 1. So a
 * message that kills its consumer within that window is not counted up at once; each crash
 * still moves the committed offset on or counts its message up (the awaited first marker).
 *
 * Nacks. A failed handler never throws into kafkajs (kafkajs would re-deliver at once, forever).
 * The partition is paused and the batch returns without resolving the message (having committed
 * its marker); after `redeliveryDelayMs` the partition resumes and the same message is fetched
 * again with attempt + 1 — the partition waits, later messages stay behind it, other
 * partitions go on. So also when the handler fails while the group rebalances: the pause is
 * renewed at the rejoin if this member keeps the partition.
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
  /** Partitions paused by redeliverLater, until their delay ends. */
  private readonly paused = new Map<string, { topic: string; partition: number }>();
  private readonly heartbeatIntervalMs: number;
  private stopping = false;
  private killed = false;
  /** close() timed out: deliveries in flight are abandoned, the handled ones still committed. */
  private abandoning = false;
  /** A heartbeat said the group is changing: finish the message in hand, commit, stop the batch. */
  private unsettled = false;
  /** One per delivery in flight: kill() settles them (one shared promise would pile up reactions). */
  private readonly abandonHooks = new Set<() => void>();
  /** Partitions whose committed offset carries a marker written since this member's last join. */
  private readonly marked = new Set<string>();
  private stopped: Promise<void> | undefined;
  /** What close() answers, every call alike (see close). */
  private closing: Promise<void> | undefined;
  private readonly groupId: string;
  private lastCrashCause: string | undefined;
  /** Subscribed topics the broker did not have at the last crash (see onCrash). */
  private missingTopics: readonly string[] = [];

  constructor(
    kafka: Kafka,
    private readonly admin: Admin,
    private readonly topics: readonly string[],
    private readonly subscription: SubscribeOptions,
    private readonly handler: DeliveryHandler,
    private readonly options: KafkaSubscriberOptions,
    private readonly onStopped: () => void,
    /**
     * Creates the subscribed topics (the subscriber's): given, a topic deleted while the
     * subscription runs is created again before its consumer restarts (see recreateGone).
     */
    private readonly creator?: KafkaTopics,
  ) {
    const groupId = kafkaGroupId(subscription.group, options.groupIdPrefix);
    this.groupId = groupId;
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
      partitionAssigners: [subscriptionAwareAssigner],
      // Every restart is the supervisor's. kafkajs restarts a retriable crash on a timer it sets
      // once the crash's own disconnect is done: a close() overlapping that disconnect resolved
      // first, and the closed subscription's consumer rejoined its group for good, holding
      // partitions it never consumed (session 36).
      retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) },
    });
    const { GROUP_JOIN, HEARTBEAT, FETCH, FETCH_START, START_BATCH_PROCESS, CRASH } =
      this.consumer.events;
    this.consumer.on(GROUP_JOIN, ({ payload }) => {
      this.attempts.newGeneration();
      this.attempts.retain(payload.memberAssignment);
      this.pauseAgain(payload.memberAssignment);
      this.marked.clear();
      this.unsettled = false;
    });
    this.consumer.on(HEARTBEAT, () => {
      this.unsettled = false;
    });
    this.supervisor = new ConsumerSupervisor(
      this.consumer,
      async () => {
        const back = await this.recreateGone();
        await this.consumer.connect();
        // Everything on a topic that came back is new to this group (its offsets went with the
        // deleted topic): read it from its start, whatever startFrom says.
        if (back.length > 0) await this.consumer.subscribe({ topics: back, fromBeginning: true });
        await this.run();
      },
      { onCrash: (error, consecutive) => this.onCrash(error, consecutive) },
    );
    // An empty fetch decoded fine: progress on an idle topic (a batch handled is the other kind).
    // kafkajs 2 reports `numberOfBatches: 0` for every fetch, so a fetch is known empty when the
    // next one starts and no batch was started since it: a fetch whose batch then failed (a
    // commit refused, an onPoison that throws) is no progress (a review, session 35).
    let fetchedNothing = false;
    this.consumer.on(FETCH, () => {
      fetchedNothing = true;
    });
    const batchStarted = () => {
      fetchedNothing = false;
    };
    this.consumer.on(START_BATCH_PROCESS, batchStarted);
    this.consumer.on(CRASH, batchStarted); // a crash between the fetch and its batch
    this.consumer.on(FETCH_START, () => {
      if (fetchedNothing) this.supervisor.progressed();
      fetchedNothing = false;
    });
  }

  /**
   * Why this subscription cannot make progress, or undefined: its consumer crashed
   * `unhealthyAfterCrashes` times in a row without handling a batch (see ConsumerSupervisor).
   */
  problem(): string | undefined {
    const crashes = this.supervisor.consecutiveCrashes;
    const limit = this.options.unhealthyAfterCrashes ?? KAFKA_DEFAULTS.unhealthyAfterCrashes;
    if (this.stopped || crashes < limit) return undefined;
    return `group "${this.groupId}" (topics ${this.topics.join(', ')}): consumer crashed ${crashes} times in a row without progress, last: ${missingTopicsText(this.missingTopics)}${this.supervisor.lastError?.message ?? 'unknown'}`;
  }

  /**
   * A crash for a topic the broker does not host (deleted since it was subscribed, by an operator
   * or another client) is reported naming the missing topics, looked up first (session 47).
   */
  private onCrash(cause: Error, consecutive: number): void {
    if (!hasErrorType(cause, 'UNKNOWN_TOPIC_OR_PARTITION')) {
      this.missingTopics = [];
      return this.reportCrash(cause, consecutive);
    }
    void this.admin
      .listTopics()
      .then(
        (listed) => void (this.missingTopics = this.topics.filter((t) => !listed.includes(t))),
        () => undefined,
      )
      .finally(() => this.reportCrash(cause, consecutive));
  }

  /**
   * Before a restart after a crash for a topic the broker does not host: creates the subscribed
   * topics it no longer has again, as subscribe() did at the start — otherwise the consumer
   * crashed at every restart until the process restarted, even once the topic was back (session
   * 48). Answers the topics missing at the crash (back now, created here or by another client).
   * A creation that fails goes to `onError` and fails the restart (tried again with backoff).
   */
  private async recreateGone(): Promise<string[]> {
    if (!this.creator || !hasErrorType(this.supervisor.lastError, 'UNKNOWN_TOPIC_OR_PARTITION'))
      return [];
    const listed = new Set(await this.admin.listTopics());
    const gone = this.topics.filter((topic) => !listed.has(topic));
    try {
      for (const topic of gone) this.creator.forget(topic);
      await this.creator.ensure(gone);
    } catch (error) {
      this.report(error as Error);
      throw error;
    }
    return [...new Set([...this.missingTopics, ...gone])];
  }

  /** Every crash to `onError`; without one, a warning per distinct cause and on turning unhealthy. */
  private reportCrash(cause: Error, consecutive: number): void {
    const error = new KafkaConsumerCrashError(
      this.groupId,
      this.topics,
      cause,
      consecutive,
      this.missingTopics,
    );
    if (this.options.onError) return this.report(error);
    const limit = this.options.unhealthyAfterCrashes ?? KAFKA_DEFAULTS.unhealthyAfterCrashes;
    const distinct = consecutive === 1 || cause.message !== this.lastCrashCause;
    this.lastCrashCause = cause.message;
    if (distinct || consecutive === limit) this.report(error);
  }

  /**
   * Connects, joins the group and starts delivering; resolves once the member has its partitions.
   * @throws KafkaTransportClosedError when close() or kill() came meanwhile (close() does not
   *   wait for a join past its bound): what it connected or joined since is undone
   */
  async start(): Promise<void> {
    const latest = this.subscription.startFrom === 'latest';
    await this.seed(); // before the consumer joins: setOffsets needs a group without members
    await this.unlessStopping();
    await this.consumer.connect();
    await this.unlessStopping();
    await this.consumer.subscribe({ topics: [...this.topics], fromBeginning: !latest });
    // A new group's 'latest' is looked up at the first fetch after the join: wait for it, so that
    // what is published after subscribe() resolves is delivered. (With several brokers this waits
    // for the first broker's fetch only.)
    const firstFetch = latest ? this.nextFetch() : Promise.resolve();
    await this.run();
    await this.unlessStopping();
    await firstFetch;
  }

  /**
   * close() or kill() came while start() was under way: the stop they ran may have found the
   * consumer not connected yet, or joining (kafkajs then has nothing to stop), and may have
   * resolved before the join completed; the member must not stay in the group, holding
   * partitions it never consumes. So it is disconnected again (stops the runner a completed
   * join started, and leaves), and start() fails.
   */
  private async unlessStopping(): Promise<void> {
    if (!this.stopping && !this.killed) return;
    await this.consumer.disconnect().catch(() => undefined);
    throw new KafkaTransportClosedError('subscriber');
  }

  /**
   * A brand-new group takes the offsets of its legacy predecessors (kafka.group-seed), and a 'latest'
   * group commits its start on partitions still without an offset (kafka.group-start), bounded
   * by SEED_TIMEOUT_MS; a failure goes to `onError` and the group starts per `startFrom`.
   */
  private async seed(): Promise<void> {
    let abandoned = false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abandoned = true;
        reject(new Error(`no answer within ${SEED_TIMEOUT_MS} ms`));
      }, SEED_TIMEOUT_MS);
      timer.unref();
    });
    try {
      const seeding = seedFromPredecessors(
        this.admin,
        {
          groupId: this.groupId,
          group: this.subscription.group,
          prefix: this.options.groupIdPrefix ?? '',
          topics: this.topics,
        },
        () => abandoned,
      ).then(async () => {
        // A 'latest' start made durable (kafka.group-start), for what seeding left unset.
        if (this.subscription.startFrom === 'latest' && !abandoned)
          await commitLatestStart(this.admin, this.groupId, this.topics);
      });
      seeding.catch(() => undefined); // after a timeout its late failure is of no interest
      await Promise.race([seeding, timeout]);
    } catch (error) {
      this.report(new KafkaGroupSeedError(this.groupId, error));
    } finally {
      clearTimeout(timer);
    }
  }

  private report(error: Error): void {
    try {
      if (this.options.onError) this.options.onError(error);
      else process.emitWarning(error);
    } catch {
      // a failing error hook must not fail the subscription
    }
  }

  private run(): Promise<void> {
    return this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.subscription.maxInFlight ?? KAFKA_DEFAULTS.maxInFlight,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  /**
   * Stops fetching, lets deliveries in flight finish and commit, leaves the group, disconnects.
   * Bounded by `closeTimeoutMs`: deliveries still running then are abandoned uncommitted (the
   * next owner gets them again), what was handled before is committed, and the member leaves.
   * Resolves at most CLOSE_GRACE_MS after that, whatever the broker does: during a rebalance
   * kafkajs's stop and disconnect wait for the member's join (JoinGroup is answered when every
   * member rejoined or `rebalanceTimeoutMs` passed; a busy member holds it) and for any request
   * in flight (session 37: 9 s past a 0.5 s closeTimeoutMs). The member then finishes leaving in
   * the background: it delivers nothing more (`stopping`), commits nothing it did not handle, and
   * whatever was in flight stays uncommitted, redelivered to the partition's next owner — never
   * lost. A second call answers with the first one's promise: a shutdown closes a subscription
   * twice (the Router closes its handle, then the app its subscriber), and the second one waited
   * the whole bound again while the member was still leaving (session 46).
   */
  close(): Promise<void> {
    this.closing ??= this.closeWithinBound();
    return this.closing;
  }

  private closeWithinBound(): Promise<void> {
    this.stopping = true;
    let abandonTimer: NodeJS.Timeout | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    const overdue = new Promise<void>((resolve) => {
      abandonTimer = setTimeout(() => {
        this.abandonInFlight();
        graceTimer = setTimeout(resolve, CLOSE_GRACE_MS);
      }, this.options.closeTimeoutMs ?? KAFKA_DEFAULTS.closeTimeoutMs);
    });
    // The stop goes on after `overdue` (its failure then is of no interest: race handles it).
    return Promise.race([this.stop(), overdue]).finally(() => {
      clearTimeout(abandonTimer);
      clearTimeout(graceTimer);
    });
  }

  /** close() took too long: the deliveries in flight end as abandoned (their results ignored). */
  private abandonInFlight(): void {
    this.abandoning = true;
    for (const abandon of this.abandonHooks) abandon();
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
    const commits = new BatchCommits(payload);
    const heartbeat = setInterval(() => {
      payload.heartbeat().catch((error: unknown) => {
        if (GROUP_CHANGING.has((error as { type?: string }).type ?? '')) this.unsettled = true;
      });
    }, this.heartbeatIntervalMs);
    try {
      await this.consume(payload, commits);
      if (this.killed) commits.abandon();
      else await commits.flush(); // before kafkajs may hand the partition over (rebalance, close)
      this.supervisor.progressed();
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Delivers the batch's messages in order; each delivery start commits (behind) the one before. */
  private async consume(payload: EachBatchPayload, commits: BatchCommits): Promise<void> {
    const { topic, partition, messages } = payload.batch;
    for (let index = 0; index < messages.length; index++) {
      const message = messages[index]!;
      if (index === 0 && this.mustStop(payload)) return;
      const attempt =
        index === 0
          ? await this.attempts.begin(topic, partition, message.offset, true)
          : this.attempts.beginNext(topic, partition, message.offset);
      commits.mark(message.offset, attempt);
      if (index === 0) await this.markOnceSinceJoin(topic, partition, commits);
      const outcome = await this.deliver(topic, partition, message, attempt);
      if (outcome === 'abandoned') return;
      if (outcome === 'nacked') {
        // Also when the batch stops for a rebalance: a member that keeps the partition refetched
        // the message right after the rejoin, without the delay (the join pauses it again).
        if (!this.stopping && !this.killed) this.redeliverLater(payload);
        return; // not resolved: the next fetch of this partition starts at this message
      }
      this.attempts.settle(topic, partition, message.offset);
      payload.resolveOffset(message.offset);
      if (index + 1 === messages.length || this.mustStop(payload) || commits.failed) {
        commits.mark((BigInt(message.offset) + 1n).toString(), 0);
        return;
      }
    }
  }

  /** Waits for the marker of the first delivery on a partition since this member (re)joined. */
  private async markOnceSinceJoin(topic: string, partition: number, commits: BatchCommits) {
    const key = `${topic}\u0000${partition}`;
    if (this.marked.has(key)) return;
    await commits.flush();
    this.marked.add(key);
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
    if (this.killed || this.abandoning) return 'abandoned';
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
      return this.killed || this.abandoning ? 'abandoned' : outcome;
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
        await (this.options.onPoison ?? warnOfPoison)({
          topic,
          position,
          group,
          raw,
          reason: error.reason,
          ...(this.subscription.replayFor && { replayFor: this.subscription.replayFor }),
        });
        return 'acked';
      }
      await this.handler(delivery);
      return 'acked';
    } catch {
      return 'nacked';
    }
  }

  /**
   * Pauses the partition; it resumes after the redelivery delay and refetches the nacked message.
   * The pause is kept here too: a supervisor restart builds a new kafkajs consumer group, which
   * would forget it (the message came back at once), so each join pauses it again.
   */
  private redeliverLater(payload: EachBatchPayload): void {
    const { topic, partition } = payload.batch;
    const key = `${topic}\u0000${partition}`;
    payload.pause();
    this.paused.set(key, { topic, partition });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.paused.delete(key);
      try {
        this.consumer.resume([{ topic, partitions: [partition] }]); // the current consumer group
      } catch {
        // between a crash and its restart: the next join finds it no longer paused
      }
    }, this.options.redeliveryDelayMs ?? KAFKA_DEFAULTS.redeliveryDelayMs);
    this.timers.add(timer);
  }

  /** After a join: pauses again what is still waiting for its redelivery delay (see redeliverLater). */
  private pauseAgain(assignment: Readonly<Record<string, readonly number[]>>): void {
    for (const [key, { topic, partition }] of this.paused) {
      if (assignment[topic]?.includes(partition)) {
        this.consumer.pause([{ topic, partitions: [partition] }]);
      } else this.paused.delete(key); // moved to another member, which redelivers it
    }
  }

  private nextFetch(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        off();
        resolve();
      };
      // Unref'd: a start() that fails (closed meanwhile) does not await it.
      const timer = setTimeout(done, timeoutMs).unref();
      const off = this.consumer.on(this.consumer.events.FETCH, done);
    });
  }
}
