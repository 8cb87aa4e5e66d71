import { type PendingAdoption } from './redis-streams.options';
import { trimmedUnread, type TrimmedUnread } from './redis-streams.trimming';
import type Redis from 'ioredis';
import { Command } from 'ioredis';
import { type Priority } from '../messages/envelope';
import { type MessageSerializer } from '../messages/serializer.port';
import { LaneScheduler } from '../transport/in-memory/priority.lanes';
import {
  type DeliveryHandler,
  type PoisonMessage,
  type SubscribeOptions,
} from '../transport/transport.port';
import { decodeFromWire, UndecodableMessageError } from '../transport/wire.codec';
import { warnOfPoison } from '../transport/poison.warning';
import { AckBatcher } from './redis-streams.acks';
import { claimForRedelivery } from './redis-streams.claims';
import { forgetKept, keepTrimmed } from './redis-streams.kept';
import { isMissingGroup } from './redis-streams.errors';
import { type StreamKeys } from './redis-streams.keys';
import { type SubscriberMetrics } from './redis-streams.metrics';
import { type SubscriptionTiming } from './redis-streams.options';
import { PartitionOwnership } from './redis-streams.ownership';
import {
  type HeldEntry,
  type PartitionState,
  rawEntries,
  toHeldEntry,
} from './redis-streams.partition';
import { DeliverablePicker, earliestWaiting } from './redis-streams.selection';

export interface SubscriptionContext {
  readonly topics: readonly string[];
  readonly options: SubscribeOptions;
  readonly handler: DeliveryHandler;
  readonly keys: StreamKeys;
  readonly timing: SubscriptionTiming;
  readonly serializer: MessageSerializer;
  readonly onPoison: ((poison: PoisonMessage) => void | Promise<void>) | undefined;
  /**
   * Told what trimming removed before the group read it (checked once, at start), and of pending
   * entries trimming removed before they ran again (when a claim finds them gone).
   */
  readonly onTrimmed: (loss: TrimmedUnread & { topic: string }) => void;
  /** Told when the subscription took over entries another consumer left pending. */
  readonly onAdopted?: (adoption: PendingAdoption) => void;
  /** Shared by the subscriber's subscriptions (acks, leases, claims); auto-pipelined. */
  readonly command: Redis;
  /** This subscription's own connection: it spends its time blocked in XREADGROUP. */
  readonly reader: Redis;
  /** Names this subscription as a lease holder (see PartitionOwnership). */
  readonly token: string;
  readonly metrics: SubscriberMetrics | undefined;
}

/**
 * A read starts once this many entries are free in every stream read — or half of
 * `maxInFlight` if that is more, or half of `prefetch` if that is fewer (see planRead): a
 * message of a drained higher lane waits behind at most that many entries of a prefetched
 * backlog per stream, however large `prefetch` is (as many as with the `prefetch` of 64 that
 * was the default until session 44, or `maxInFlight` when that was larger).
 */
const READ_WATERMARK_MAX = 32;
/** Index of the COUNT value in the XREADGROUP arguments (see readArguments, partialRead). */
const COUNT_ARGUMENT = 4;
/** Index of the BLOCK value in a blocking read's arguments (see readArguments). */
const BLOCK_ARGUMENT = 6;
/**
 * A read names a partition only if its lease holds at least this much longer (see readable):
 * 10 ms, or a tenth of the lease when that is shorter (tests with leases of a few ms).
 */
const LEASE_MARGIN_MS = 10;

/** What readLoop does next (see planRead). */
const NO_READ = 0;
const FULL_READ = 1;
const PARTIAL_READ = 2;
type ReadPlan = typeof NO_READ | typeof FULL_READ | typeof PARTIAL_READ;
/** One bit per lane (planRead's sets of lanes). */
const LANE_BIT: Readonly<Record<Priority, number>> = { critical: 1, high: 2, normal: 4, low: 8 };

/** One XREADGROUP: its arguments, the streams it reads and the partitions they belong to. */
interface ReadArguments {
  readonly parts: readonly PartitionState[];
  readonly streams: readonly string[];
  readonly args: (string | number)[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/**
 * A wait that does not hold the process: the subscription's own timers (heartbeat, read retry)
 * must not keep alive a process whose Redis connections are all closed — a router left running
 * after its connection was closed would otherwise retry its reads for ever. While the
 * connection is open, its socket keeps the process alive.
 */
const idle = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * One subscribe() call: a consumer of one group on some topics. Reads the partitions it owns
 * (PartitionOwnership) on its own connection, as far as `maxInFlight` allows, and runs entries
 * higher lanes first (LaneScheduler). A key's next entry starts only after the previous one was
 * acknowledged, and never while an older entry of the key waits for redelivery; XACK follows the
 * handler's success. A delivery's position is `<lane>:<partition>:<entry id>`.
 *
 * `maxInFlight` bounds the handlers running at once: a handler's slot is free again as soon as
 * it resolved, while its XACK goes out batched with others (AckBatcher, which calls back once
 * per batch: no promise or timer per delivery); its key stays busy and the entry stays held
 * (counted by the drain of its partition and by back-pressure) until the XACK replied — so a
 * lease is never released, nor a subscription closed, with an acknowledgement still unsent.
 * kill() sends none of the unsent ones (they are redelivered).
 *
 * Reads prefetch (see readLoop, planRead): a read starts once every stream has the read
 * watermark free — half of `prefetch` (the subscriber's option, at least maxInFlight), but no
 * more than 32 entries or half of maxInFlight (READ_WATERMARK_MAX) — and takes from each
 * stream what brings the fullest back to `prefetch` — so no stream ever has more than
 * `prefetch` entries pending at this consumer, and the entries still held keep the handlers
 * busy while the read is out. A stream fuller than that (a lane the scheduler drains slowly)
 * does not stop the lanes that may run dry being read: the streams with room are read without
 * it (a partial read, not blocking). The XACKs not written yet when a read starts go out just before
 * it on the reader's connection (Redis applies them first, see planRead), so a burst of
 * handlers that resolve together starts the next read midway, not after its XACK round trip.
 * Where the other XACKs go (AckBatcher's route): while the reader waits for room, on its
 * connection, so the room they free counts for the next read at once, not after their reply
 * (since session 44); while a read is out, on the command connection.
 * Hazard: a message published to a drained higher lane behind a prefetched backlog waits until
 * the fullest stream has the watermark free again — behind up to 32 entries (or half of
 * maxInFlight) per stream with data (half of `prefetch` until session 44), while up to
 * prefetch × (streams with data) entries are held at once. Entries read ahead are not
 * deliveries yet: a partition given up cleanly (close, rebalance) is handed over with their
 * delivery counts lowered again (HAND_OVER), so the next owner delivers them with the attempt
 * no handler has used — only a crash (or a read reply lost with its connection) makes them
 * count one delivery more.
 */
export class StreamsSubscription {
  private readonly ownership: PartitionOwnership;
  private readonly scheduler = new LaneScheduler();
  private readonly maxInFlight: number;
  /** Entries held per stream at most (read, not acknowledged yet); at least maxInFlight. */
  private readonly prefetch: number;
  /** A read starts once this much room is free (see READ_WATERMARK_MAX). */
  private readonly readWatermark: number;
  /** See LEASE_MARGIN_MS. */
  private readonly leaseMargin: number;
  private readonly acks: AckBatcher<HeldEntry>;
  /** Entries started and not settled yet: handler running, or its XACK outstanding. */
  private running = 0;
  /** Handlers running (bounded by maxInFlight). */
  private handling = 0;
  private stopping = false;
  private killed = false;
  /** close() gave up waiting on running handlers (closeTimeoutMs): `killed` is set too. */
  private abandoned = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private redeliveryTimer: NodeJS.Timeout | undefined;
  /** Some held entry may wait for its redelivery delay (only failures delay one): worth a scan. */
  private delayed = false;
  private dispatchQueued = false;
  private currentTick: Promise<void> = Promise.resolve();
  private readerLoop: Promise<void> = Promise.resolve();
  private wakeReader: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private closing: Promise<void> | undefined;
  private readArgs:
    { active: readonly PartitionState[]; streams: string[]; args: (string | number)[] } | undefined;
  /**
   * The streams that may have a backlog in Redis (see planRead): their last read returned COUNT
   * entries, or they were not read since their partition became active. The others were
   * drained: nothing more waited in Redis at their last read. Few in the common case (busy
   * streams only), so planRead scans it, not the drained ones.
   */
  private readonly backlogs = new Map<string, { part: PartitionState; bit: number }>();
  /** Set by planRead: COUNT of the read it plans (the least room among the streams read). */
  private plannedCount = 0;
  /** The reader's connection closed since the current read was sent (see readLoop). */
  private readerDropped = false;
  /**
   * The read out on the reader's connection, until it settles: failed, and so never sent again,
   * when that connection closes first (see readLoop).
   */
  private outstandingRead: Command | undefined;
  /** CLIENT ID of the reader's connection (asked before its first read): close() unblocks its read. */
  private readerId: number | undefined;
  /** When the last tick succeeded (health: see problem). */
  private lastTickAt = Date.now();
  private tickError: unknown;
  /** Since when reads have failed without a success in between (undefined: the last one succeeded). */
  private readFailingSince: number | undefined;
  private readError: unknown;
  /** Track the last id read per stream (a recreated 'latest' group resumes after it). */
  private readonly tracksReads: boolean;

  constructor(private readonly context: SubscriptionContext) {
    const { options } = context;
    this.maxInFlight = options.maxInFlight ?? 16; // checked: a positive integer
    this.prefetch = Math.max(this.maxInFlight, context.timing.prefetch);
    this.readWatermark = Math.min(
      Math.ceil(this.prefetch / 2),
      Math.max(READ_WATERMARK_MAX, Math.ceil(this.maxInFlight / 2)),
    );
    this.leaseMargin = Math.min(LEASE_MARGIN_MS, context.timing.leaseTtlMs / 10);
    this.tracksReads = options.startFrom === 'latest';
    this.acks = new AckBatcher<HeldEntry>(
      context.command,
      options.group,
      {
        acknowledged: (entries) => this.acknowledged(entries),
        failed: (entries) => this.ackFailed(entries),
      },
      context.reader,
    );
    this.ownership = new PartitionOwnership({
      topics: context.topics,
      group: options.group,
      consumer: options.consumer,
      keys: context.keys,
      timing: context.timing,
      command: context.command,
      token: context.token,
      startFrom: options.startFrom,
      onAdopted: context.onAdopted,
      onTrimmedPending: (part, stream, ids) => this.reportTrimmedPending(part, stream, ids),
    });
    context.reader.on('close', () => {
      this.readerDropped = true;
      this.readerId = undefined; // a new connection gets a new id
      const read = this.outstandingRead;
      this.outstandingRead = undefined;
      // ioredis would write it again once a connection is ready, however long that takes (see
      // readLoop): it fails now instead, and is dropped from the queue (neverSendFailed).
      read?.reject(
        new Error(
          'XREADGROUP interrupted: the connection to Redis closed before its reply (not sent again)',
        ),
      );
    });
  }

  /**
   * Why this subscription cannot make progress, or undefined while it can: partitions assigned
   * to it not active for `stuckAfterMs` (a lease that never frees, groups that cannot be
   * recreated, claims that keep failing), or heartbeats or reads failing for that long.
   */
  problem(now = Date.now()): string | undefined {
    if (this.stopping) return undefined;
    const { options, timing } = this.context;
    const bound = timing.stuckAfterMs;
    const who = `group ${options.group}, consumer ${options.consumer}`;
    const errorText = (error: unknown) =>
      error instanceof Error ? error.message : String(error ?? 'unknown error');
    if (now - this.lastTickAt >= bound) {
      return (
        `${who}: no heartbeat succeeded for ${now - this.lastTickAt} ms ` +
        `(${errorText(this.tickError)})`
      );
    }
    const stuck = this.ownership.stalled(now, bound);
    if (stuck.length > 0) {
      const cause = this.tickError ?? this.readError;
      return (
        `${who}: partitions stuck not active for more than ${bound} ms: ${stuck.join(', ')}` +
        (cause === undefined ? '' : ` (last error: ${errorText(cause)})`)
      );
    }
    if (this.readFailingSince !== undefined && now - this.readFailingSince >= bound) {
      return (
        `${who}: reads failing for ${now - this.readFailingSince} ms ` +
        `(${errorText(this.readError)})`
      );
    }
    return undefined;
  }

  private get partitions(): readonly PartitionState[] {
    return this.ownership.partitions;
  }

  /** Creates the consumer groups, joins, and waits up to `joinTimeoutMs` for this consumer's share of partitions. */
  async start(): Promise<void> {
    await this.ownership.createGroups(this.context.options.startFrom);
    await this.reportTrimmed();
    await this.tickOnce();
    this.readerLoop = this.readLoop();
    const deadline = Date.now() + this.context.timing.joinTimeoutMs;
    while (!this.stopping && !this.ownership.assignedActive && Date.now() < deadline) {
      await sleep(Math.min(50, this.context.timing.heartbeatMs));
      await this.tickOnce();
    }
    this.scheduleTick();
  }

  /**
   * Tells onTrimmed about entries trimming removed before the group read them, so a consumer
   * back from an outage longer than its streams hold learns of the loss before it reads past
   * it. Best effort: a failure to look (Redis < 7, a lost connection) does not stop the start.
   */
  private async reportTrimmed(): Promise<void> {
    const { command, keys, options, topics, onTrimmed } = this.context;
    for (const topic of topics) {
      const losses = await trimmedUnread(command, keys.streamsOf(topic), options.group).catch(
        () => [],
      );
      for (const loss of losses) {
        try {
          onTrimmed({ ...loss, topic });
        } catch {
          // A failing report must not fail the start.
        }
      }
    }
  }

  /**
   * Tells onTrimmed (and the trimmed-pending counter) about entries delivered to the group and
   * never acknowledged that trimming removed before they could run again (see
   * TrimmedUnread.pendingIds). A failing report must not fail the step that found the loss.
   */
  private reportTrimmedPending(part: PartitionState, stream: string, ids: readonly string[]): void {
    const { options, onTrimmed, metrics } = this.context;
    metrics?.trimmedPending(part.topic, options.group, ids.length);
    try {
      onTrimmed({
        stream,
        group: options.group,
        count: ids.length,
        pendingIds: ids,
        topic: part.topic,
      });
    } catch {
      // Reported as far as it goes: the counter above counts it.
    }
  }

  /**
   * Stops reading, lets running handlers finish and be acknowledged (for at most
   * closeTimeoutMs: then they are abandoned unacknowledged), releases the leases and leaves the
   * group.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Simulates a crash: stops everything at once; nothing is acknowledged or released. */
  kill(): void {
    this.killed = true;
    this.stopping = true;
    this.acks.discard();
    clearTimeout(this.tickTimer);
    clearTimeout(this.redeliveryTimer);
    this.context.reader.disconnect();
    this.wakeReader?.();
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private async shutdown(): Promise<void> {
    const deadline = Date.now() + this.context.timing.closeTimeoutMs;
    this.stopping = true;
    clearTimeout(this.tickTimer);
    clearTimeout(this.redeliveryTimer);
    await this.currentTick;
    this.wakeReader?.();
    await this.interruptRead();
    this.context.reader.disconnect();
    // The leases are renewed while handlers finish: a lease that lapsed meanwhile would let
    // another consumer claim the entries waiting behind them (same key) and run them now.
    const renewing = this.renewWhileClosing();
    if (!(await this.idleBy(deadline)) && !this.killed) await this.abandonRunning();
    await renewing.stop();
    // Entries read and never started are handed over with their delivery counts given back.
    if (!this.killed || this.abandoned) await this.ownership.releaseAll();
  }

  /**
   * Closing ticks, every heartbeatMs until stopped: the member sets and the leases of what
   * still runs are renewed, and each partition is handed over (its unstarted entries keep their
   * attempt) as soon as nothing of it runs — see PartitionOwnership.tick(stopping).
   */
  private renewWhileClosing(): { stop(): Promise<void> } {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const schedule = (): void => {
      timer = setTimeout(() => {
        this.currentTick = this.currentTick.then(async () => {
          if (stopped || this.killed) return;
          await this.ownership.tick(true).catch((error: unknown) => {
            this.tickError = error;
          });
        });
        void this.currentTick.finally(() => {
          if (!stopped && !this.killed) schedule();
        });
      }, this.context.timing.heartbeatMs);
    };
    schedule();
    return {
      stop: async () => {
        stopped = true;
        clearTimeout(timer);
        await this.currentTick;
      },
    };
  }

  /** Whether every started entry settled (or kill() came) before `deadline`. */
  private async idleBy(deadline: number): Promise<boolean> {
    while (this.running > 0 && !this.killed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    return true;
  }

  /**
   * close() outlived closeTimeoutMs: the acknowledgements of finished handlers are written
   * (bounded by a second), then the handlers still running are abandoned — their results are
   * ignored as after kill(), and their entries stay pending for the next owner to claim.
   */
  private async abandonRunning(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.acks.flush(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, 1_000))),
    ]);
    clearTimeout(timer);
    this.abandoned = true;
    this.killed = true;
    this.acks.discard();
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /**
   * Ends the outstanding read without losing its reply: CLIENT UNBLOCK makes a blocked
   * XREADGROUP return at once as if it timed out, and a read Redis already served still brings
   * its entries here (accept), so close() hands them over as unstarted. Dropping the connection
   * instead would lose such a reply, leaving entries pending that no handler saw and whose next
   * claim counts a delivery. Asked again until the read returns (it may not have reached Redis
   * yet); bounded by blockMs, after which the connection is dropped as a last resort (a read
   * waiting in ioredis' offline queue while Redis is unreachable never returns).
   */
  private async interruptRead(): Promise<void> {
    const { reader, command, timing } = this.context;
    let finished = false;
    const loop = this.readerLoop.then(() => {
      finished = true;
    });
    const deadline = Date.now() + timing.blockMs + 500;
    while (!finished && reader.status === 'ready' && Date.now() < deadline) {
      const id = this.readerId;
      if (id !== undefined) await command.client('UNBLOCK', id).catch(() => undefined);
      await Promise.race([loop, sleep(id === undefined ? 20 : 50)]);
    }
    if (!finished) {
      reader.disconnect();
      await loop;
    }
  }

  private scheduleTick(): void {
    if (this.stopping) return;
    this.tickTimer = setTimeout(() => {
      void this.tickOnce().finally(() => this.scheduleTick());
    }, this.context.timing.heartbeatMs);
    this.tickTimer.unref(); // see idle()
  }

  /** Ticks run one after another, never concurrently. */
  private tickOnce(): Promise<void> {
    this.currentTick = this.currentTick.then(async () => {
      if (this.stopping) return;
      // Retried next heartbeat; a failure that lasts shows in the health probe (problem).
      await this.ownership.tick(this.stopping).then(
        () => {
          this.lastTickAt = Date.now();
          this.tickError = undefined;
        },
        (error: unknown) => {
          this.tickError = error;
        },
      );
      this.dispatch();
      this.wakeReader?.();
    });
    return this.currentTick;
  }

  /**
   * The partitions a read may name now: active, with a lease that still holds; a blocking read
   * blocks no longer than the shortest of their leases holds (readArguments). A consumer whose process was stopped (SIGSTOP, a paused VM, a long GC) resumes
   * with partitions still marked active whose leases lapsed meanwhile and were taken by
   * another consumer; reading them before the next tick finds that out would take the new
   * owner's messages ('>' gives each entry to one reader) and break their keys' order.
   */
  private readable(): PartitionState[] {
    const until = Date.now() + this.leaseMargin;
    return this.partitions.filter((part) => part.status === 'active' && part.leaseValid(until));
  }

  /** Reads from the active partitions while there is room (back-pressure), on the dedicated connection. */
  private async readLoop(): Promise<void> {
    const { reader, timing } = this.context;
    let failures = 0;
    while (!this.stopping) {
      const active = this.readable();
      const plan = active.length === 0 ? NO_READ : this.planRead(active);
      // Low watermark: wait until readWatermark is free, so reads are not one entry at a time.
      if (plan === NO_READ) {
        // The reader's connection is free: acknowledgements go there (see AckBatcher).
        this.acks.routeTo('reader');
        await new Promise<void>((resolve) => {
          this.wakeReader = resolve;
          setTimeout(resolve, timing.heartbeatMs).unref();
        });
        this.wakeReader = undefined;
        continue;
      }
      // Prefetch: COUNT (per stream) is the least room among the streams read, so one read
      // fills no stream beyond `prefetch` entries held: at most prefetch × (streams owned).
      const count = this.plannedCount;
      const { parts, streams, args } =
        plan === FULL_READ ? this.readArguments(active, count) : this.partialRead(active, count);
      // While the read is out, acknowledgements go on the command connection (see AckBatcher).
      this.acks.routeTo('command');
      for (const part of parts) part.inRead = true;
      this.readerDropped = false;
      try {
        // Asked once per connection, before its first read (close() unblocks reads with it).
        if (this.readerId === undefined && reader.status === 'ready')
          this.readerId = Number(await reader.client('ID'));
        // The acknowledgements readRoom() counted as free go first, on this connection: Redis
        // applies them before the read, and they settle here before its entries are added.
        const acked = this.acks.flush(reader);
        // Its streams and BLOCK fit the leases held when it is sent, not later: should the
        // connection close before the reply, the read fails (see the 'close' listener) rather
        // than wait in ioredis' resend queue for the next connection — which may come after the
        // leases lapsed and another consumer took the partitions over: '>' would take from it
        // the entries it had not read yet, left pending here where it never adopts them, while
        // it went on with later messages of their keys (a review, session 45). Whether Redis
        // served the read before the connection closed is unknown: the partitions recover as
        // after any failed read (recoverAfterLostRead).
        const read = new Command('XREADGROUP', args, { replyEncoding: 'utf8' });
        this.outstandingRead = read;
        void reader.sendCommand(read);
        const reply: unknown = await read.promise.finally(() => {
          if (this.outstandingRead === read) this.outstandingRead = undefined;
        });
        await acked;
        failures = 0;
        this.readFailingSince = undefined;
        this.readError = undefined;
        // A stream read is drained (out of backlogs) unless accept() sees it return COUNT entries.
        for (const stream of streams) this.backlogs.delete(stream);
        this.accept(reply, count);
        // The connection closed as the reply came in: a lost reply of an earlier read of ours
        // cannot be ruled out.
        if (this.readerDropped) for (const part of parts) this.ownership.recoverAfterLostRead(part);
      } catch (error) {
        this.acks.routeTo('command');
        if (this.stopping) break;
        for (const part of parts) this.ownership.recoverAfterLostRead(part);
        this.readFailingSince ??= Date.now();
        this.readError = error;
        // The stream or group is gone (Redis lost its data): recreate the groups (with backoff,
        // see repairGroups); the partitions adopt what is pending again, then read on.
        if (isMissingGroup(error)) {
          this.ownership.groupsLost();
          await this.ownership.repairGroups().catch(() => undefined);
        }
        await idle(Math.min(1_000, 50 * 2 ** failures++));
      } finally {
        for (const part of parts) {
          part.inRead = false;
          this.ownership.finishDrain(part);
        }
      }
      this.dispatch();
    }
    // The reader's connection is about to close: what is left goes on the command connection.
    this.acks.routeTo('command');
  }

  /**
   * Whether a read starts now, and of which streams (COUNT in plannedCount). A stream's room is
   * `prefetch` minus the entries held in it — its pending entries in Redis, those whose XACK is
   * still out included, so no stream ever has more than `prefetch` entries pending here.
   * Entries whose XACK is queued, not written, do not count: readLoop writes those XACKs just
   * before the read on the same connection, so Redis applies them first; nor do those whose
   * XACK was written on that connection and has not replied yet (AckBatcher.queued). (Should such an XACK
   * fail while the read succeeds — Redis refuses both alike, NOGROUP, a closed connection — its
   * entries stay pending beyond `prefetch` until retried.)
   *
   * Low watermark: a stream is read once at least readWatermark is free in it, so reads
   * are not one entry at a time. FULL_READ when every stream is (the blocking read of all the
   * active streams); else PARTIAL_READ — a non-blocking read of those streams only — when a
   * lane none of whose streams is fuller than that may have a backlog in Redis (one of its
   * streams in `backlogs`): a stream kept full by a lane the scheduler drains slowly must not stop
   * the others being read (their lanes would run dry and the slow lane alone be ready). A lane
   * with a full stream holds enough to stay ready: reads are not split for it (several partitions
   * of one lane keep being read together). Else NO_READ: new entries of drained streams are read
   * with the next full read, as are those of every stream when one is full (see the class
   * comment).
   */
  private planRead(active: readonly PartitionState[] = this.readable()): ReadPlan {
    const { prefetch, readWatermark, acks } = this;
    let least = Infinity;
    let fullLanes = 0;
    for (const part of active) {
      for (const lane of part.laneList) {
        const room = prefetch - part.heldIn(lane) + acks.queued(part.streams[lane]);
        if (room < readWatermark) fullLanes |= LANE_BIT[lane];
        else if (room < least) least = room;
      }
    }
    this.plannedCount = least;
    if (least === Infinity) return NO_READ;
    if (fullLanes === 0) return FULL_READ;
    // A lane with no full stream: each of its streams has room.
    for (const { part, bit } of this.backlogs.values())
      if ((fullLanes & bit) === 0 && active.includes(part)) return PARTIAL_READ;
    return NO_READ;
  }

  /**
   * `GROUP <group> <consumer> COUNT <count> STREAMS <stream>… <'>'>…` of the streams with room
   * (see planRead), without BLOCK: a stream that filled up meanwhile cannot wait on it.
   */
  private partialRead(active: readonly PartitionState[], count: number): ReadArguments {
    const { prefetch, readWatermark, acks } = this;
    const { options } = this.context;
    const parts: PartitionState[] = [];
    const streams: string[] = [];
    for (const part of active) {
      for (const lane of part.laneList) {
        const stream = part.streams[lane];
        if (prefetch - part.heldIn(lane) + acks.queued(stream) < readWatermark) continue;
        streams.push(stream);
        if (parts[parts.length - 1] !== part) parts.push(part);
      }
    }
    const args = ['GROUP', options.group, options.consumer, 'COUNT', count, 'STREAMS', ...streams];
    return { parts, streams, args: [...args, ...streams.map(() => '>')] };
  }

  /**
   * `GROUP <group> <consumer> COUNT <count> BLOCK <ms> STREAMS <stream>… <'>'>…` of all the
   * active streams, rebuilt only when the active partitions change (a read per few entries is
   * the common case at low rates).
   */
  private readArguments(active: readonly PartitionState[], count: number): ReadArguments {
    const cached = this.readArgs;
    if (
      !cached ||
      cached.active.length !== active.length ||
      cached.active.some((part, i) => part !== active[i])
    ) {
      const { options, timing } = this.context;
      const streams = active.flatMap((part) => part.streamList);
      // Streams of partitions active anew may have backlogs.
      this.backlogs.clear();
      for (const part of active)
        for (const lane of part.laneList)
          this.backlogs.set(part.streams[lane], { part, bit: LANE_BIT[lane] });
      this.readArgs = {
        active,
        streams,
        args: [
          'GROUP',
          options.group,
          options.consumer,
          'COUNT',
          count,
          'BLOCK',
          timing.blockMs,
          'STREAMS',
          ...streams,
          ...streams.map(() => '>'),
        ],
      };
    }
    const read = this.readArgs!;
    read.args[COUNT_ARGUMENT] = count;
    // Never past a lease of the streams read: entries it returned then might be another's.
    let until = Infinity;
    for (const part of active) until = Math.min(until, part.leaseValidUntil);
    read.args[BLOCK_ARGUMENT] = Math.max(
      1,
      Math.floor(Math.min(this.context.timing.blockMs, until - Date.now() - this.leaseMargin)),
    );
    return { parts: active, streams: read.streams, args: read.args };
  }

  /** Wakes the waiting reader once a read would start (checked once per dispatch, not per entry). */
  private wakeReaderIfRoom(): void {
    const wake = this.wakeReader;
    if (wake && this.planRead() !== NO_READ) {
      this.wakeReader = undefined;
      wake();
    }
  }

  /** Holds the entries read; a stream that returned `count` of them may have more (backlogs). */
  private accept(reply: unknown, count: number): void {
    if (!Array.isArray(reply)) return;
    for (const item of reply) {
      if (!Array.isArray(item)) continue;
      const stream = String(item[0]);
      const part = this.ownership.partitionOf(stream);
      const lane = part?.laneOfStream(stream);
      if (part && lane && Array.isArray(item[1]) && item[1].length >= count)
        this.backlogs.set(stream, { part, bit: LANE_BIT[lane] });
      // Entries of a partition we are giving up are held, never started: its drain hands them
      // over (delivery counts given back) and the next owner adopts them.
      const entries = rawEntries(item[1]);
      if (this.tracksReads && entries.length > 0)
        this.ownership.readUpTo(stream, entries[entries.length - 1]![0]);
      if (!part || !lane || (part.status !== 'active' && part.status !== 'draining')) continue;
      for (const raw of entries) part.add(toHeldEntry(stream, lane, raw, 1));
    }
  }

  /** Starts deliverable entries, higher lanes first (LaneScheduler), while fewer than maxInFlight handlers run. */
  private dispatch(): void {
    if (this.stopping) return;
    const picker = new DeliverablePicker(this.partitions, Date.now());
    // The picker keeps each lane's answer until an entry starts: asking again costs nothing.
    const ready = (candidate: Priority) => picker.first(candidate) !== undefined;
    while (this.handling < this.maxInFlight) {
      const lane = this.scheduler.next(ready);
      if (!lane) break;
      const entry = picker.first(lane)!;
      const part = this.ownership.partitionOf(entry.stream)!;
      picker.started(part, entry.key);
      entry.state = 'running';
      part.busyKeys.add(entry.key);
      part.running++;
      this.running++;
      this.handling++;
      this.begin(part, entry);
    }
    this.scheduleRedelivery();
  }

  /** One dispatch for all the handlers and acks that complete together (a batch's XACK reply settles many). */
  private requestDispatch(): void {
    if (this.dispatchQueued) return;
    this.dispatchQueued = true;
    queueMicrotask(() => {
      this.dispatchQueued = false;
      this.dispatch();
      this.wakeReaderIfRoom();
    });
  }

  /**
   * Runs an entry; a failed one is claimed back first (XCLAIM), off the hot path. One that
   * trimming removed while held (HeldEntry.trimmed) has nothing to claim: it runs again from the
   * copy held, at its next attempt — still after the redelivery delay and before any later entry
   * of its key — rather than be forgotten, since nothing acknowledged it (at-least-once). Its
   * copy in Redis (redis-streams.kept.ts) is written first, stamped with this run: a crash during
   * it, or a move of the partition, leaves the entry to the next owner, which adopts it once it
   * has been idle `claimIdleMs` — as a pending entry would be.
   */
  private begin(part: PartitionState, entry: HeldEntry): void {
    if (entry.trimmed) {
      this.beginTrimmed(part, entry);
      return;
    }
    if (!entry.needsClaim) {
      this.handle(part, entry);
      return;
    }
    const { command, options } = this.context;
    claimForRedelivery(command, entry, options.group, options.consumer).then(
      (outcome) => {
        if (this.killed) return;
        // An adoption that met it trimmed meanwhile (after a lost read) made it not pending
        // any more: it is not gone, it runs from its copy.
        if (outcome === 'gone' && !entry.trimmed) {
          // Acknowledged elsewhere meanwhile (our lease lapsed), or the group was lost: it must
          // not run here; forget it.
          this.handling--;
          this.settle(part, entry, false);
          return;
        }
        if (entry.trimmed) {
          this.beginTrimmed(part, entry);
          return;
        }
        if (outcome === 'trimmed') {
          entry.trimmed = true;
          this.beginTrimmed(part, entry);
          return;
        }
        entry.attempt += 1;
        entry.needsClaim = false;
        if (this.lapsedWhileStarting(part, entry)) return;
        this.handle(part, entry);
      },
      // Redis unreachable: try again after the redelivery delay. NOGROUP: the entry went with
      // Redis' data; the groups are recreated and the partition's lease, gone too, makes it
      // drain and forget the entry.
      (error: unknown) => {
        if (isMissingGroup(error)) this.ownership.groupsLost();
        this.retry(part, entry);
      },
    );
  }

  /** See begin: keeps the trimmed entry's copy in Redis (this run counted), then runs it. */
  private beginTrimmed(part: PartitionState, entry: HeldEntry): void {
    const attempt = entry.attempt + (entry.needsClaim ? 1 : 0);
    keepTrimmed(this.context.command, part, [entry], () => attempt).then(
      () => {
        if (this.killed) return;
        entry.attempt = attempt;
        entry.needsClaim = false;
        if (this.lapsedWhileStarting(part, entry)) return;
        this.handle(part, entry);
      },
      // Redis unreachable: not run without its copy; tried again after the redelivery delay.
      () => this.retry(part, entry),
    );
  }

  /**
   * Whether the partition's lease lapsed while the entry's claim (or copy) was out: then it does
   * not run here, and waits as after a failure (the partition drains, its next owner runs it).
   * The reply may come long after the request was sent — held in a connection that died, the
   * request is written again on the next one, however much later (ioredis' resend queue) — and
   * XCLAIM (min-idle 0) takes the entry whoever holds it: run, it would run beside the new
   * owner's delivery of it, ahead of the later messages of its key that owner went on with (a
   * review, session 45).
   */
  private lapsedWhileStarting(part: PartitionState, entry: HeldEntry): boolean {
    if (part.leaseValid(Date.now())) return false;
    this.retry(part, entry);
    return true;
  }

  /**
   * Runs the handler; undecodable entries go to onPoison instead. No async function and no
   * promise of our own per delivery: the handler's promise calls back handled() or failed().
   */
  private handle(part: PartitionState, entry: HeldEntry): void {
    const { options, handler, serializer } = this.context;
    let result: unknown;
    try {
      if (entry.raw === undefined) {
        throw new UndecodableMessageError('stream entry has no message field');
      }
      const envelope = decodeFromWire(serializer, entry.raw);
      result = handler({
        topic: part.topic,
        envelope,
        attempt: entry.attempt,
        position: positionOf(part, entry),
        group: options.group,
      });
    } catch (error) {
      // Settled on a later microtask, as a rejected handler is: never inside dispatch()'s scan.
      queueMicrotask(() => this.failed(part, entry, error));
      return;
    }
    Promise.resolve(result).then(
      () => this.handled(part, entry),
      (error: unknown) => this.failed(part, entry, error),
    );
  }

  /**
   * The handler succeeded (or onPoison took an undecodable entry): its slot may run another
   * entry while the XACK is out (batched; acknowledged() settles the entry and frees its key).
   */
  private handled(part: PartitionState, entry: HeldEntry): void {
    if (this.killed) return;
    this.context.metrics?.settled(part.topic, this.context.options.group, false);
    this.handling--;
    this.requestDispatch();
    if (entry.kept) {
      // Nothing to acknowledge (not pending any more): its copy goes instead. Should that
      // fail, the next owner of the partition runs it once more (at-least-once).
      const done = () => {
        if (!this.killed) this.acknowledged([entry]);
      };
      forgetKept(this.context.command, part, entry).then(done, done);
      return;
    }
    this.acks.ack(entry.stream, entry.id, entry);
  }

  /** Undecodable: onPoison, and the entry is done (acknowledged). Anything else: the handler failed. */
  private failed(part: PartitionState, entry: HeldEntry, error: unknown): void {
    if (this.killed) return;
    if (!(error instanceof UndecodableMessageError)) {
      this.context.metrics?.settled(part.topic, this.context.options.group, true);
      this.retry(part, entry);
      return;
    }
    const { onPoison, options } = this.context;
    Promise.resolve()
      .then(() =>
        (onPoison ?? warnOfPoison)({
          topic: part.topic,
          position: positionOf(part, entry),
          group: options.group,
          raw: entry.raw ?? '',
          reason: error.reason,
          ...(options.replayFor && { replayFor: options.replayFor }),
        }),
      )
      .then(
        () => this.handled(part, entry),
        // onPoison failed: the entry stays pending and comes back after the redelivery delay.
        () => this.retry(part, entry),
      );
  }

  /** Frees the handler slot; the entry runs again after the redelivery delay. */
  private retry(part: PartitionState, entry: HeldEntry): void {
    if (this.killed) return;
    this.retryLater(entry);
    this.handling--;
    this.settle(part, entry, true);
  }

  /** A batch's XACK replied: its entries are done. */
  private acknowledged(entries: readonly HeldEntry[]): void {
    for (const entry of entries) {
      const part = this.ownership.partitionOf(entry.stream)!;
      entry.ackFailures = 0;
      this.settle(part, entry, false);
    }
  }

  /**
   * A batch's XACK failed: sent again with backoff while the lease lasts; after that the entry
   * stays pending and runs again (here after the redelivery delay, or at the next owner).
   */
  private ackFailed(entries: readonly HeldEntry[]): void {
    const now = Date.now();
    const again: HeldEntry[] = [];
    let failures = 0;
    for (const entry of entries) {
      const part = this.ownership.partitionOf(entry.stream)!;
      if (part.leaseValid(now)) {
        again.push(entry);
        failures = Math.max(failures, entry.ackFailures++);
        continue;
      }
      entry.ackFailures = 0;
      this.retryLater(entry);
      this.settle(part, entry, true);
    }
    if (again.length === 0) return;
    setTimeout(
      () => {
        for (const entry of again) this.acks.ack(entry.stream, entry.id, entry);
      },
      Math.min(500, 20 * 2 ** failures),
    );
  }

  private settle(part: PartitionState, entry: HeldEntry, keep: boolean): void {
    if (keep) entry.state = 'waiting';
    else part.remove(entry);
    part.busyKeys.delete(entry.key);
    part.running--;
    this.running--;
    if (this.running === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    this.ownership.finishDrain(part);
    this.requestDispatch();
  }

  /** Claim the entry again and run it after the redelivery delay. */
  private retryLater(entry: HeldEntry): void {
    entry.needsClaim = true;
    entry.availableAt = Date.now() + this.context.timing.redeliveryDelayMs;
    this.delayed = true;
  }

  private scheduleRedelivery(): void {
    if (!this.delayed) return;
    clearTimeout(this.redeliveryTimer);
    if (this.stopping) return;
    const now = Date.now();
    const earliest = earliestWaiting(this.partitions, now);
    if (earliest === Infinity) {
      this.delayed = false; // a failure sets it again
      return;
    }
    this.redeliveryTimer = setTimeout(() => this.dispatch(), earliest - now);
    this.redeliveryTimer.unref();
  }
}

/** A delivery's position: `<lane>:<partition>:<entry id>` (entry ids repeat across a topic's streams). */
function positionOf(part: PartitionState, entry: HeldEntry): string {
  return `${entry.lane}:${part.index}:${entry.id}`;
}
