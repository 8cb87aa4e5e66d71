import type Redis from 'ioredis';
import { type Priority } from '../messages/envelope';
import { type MessageSerializer } from '../messages/serializer.port';
import { LANES, LaneScheduler } from '../transport/in-memory/priority.lanes';
import {
  type DeliveryHandler,
  type PoisonMessage,
  type SubscribeOptions,
} from '../transport/transport.port';
import { decodeFromWire, UndecodableMessageError } from '../transport/wire.codec';
import { AckBatcher } from './redis-streams.acks';
import { claimForRedelivery } from './redis-streams.claims';
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
import { busyKey, DeliverablePicker, earliestWaiting } from './redis-streams.selection';

export interface SubscriptionContext {
  readonly topics: readonly string[];
  readonly options: SubscribeOptions;
  readonly handler: DeliveryHandler;
  readonly keys: StreamKeys;
  readonly timing: SubscriptionTiming;
  readonly serializer: MessageSerializer;
  readonly onPoison: ((poison: PoisonMessage) => void | Promise<void>) | undefined;
  /** Shared by the subscriber's subscriptions (acks, leases, claims); auto-pipelined. */
  readonly command: Redis;
  /** This subscription's own connection: it spends its time blocked in XREADGROUP. */
  readonly reader: Redis;
  /** Names this subscription as a lease holder (see PartitionOwnership). */
  readonly token: string;
  readonly metrics: SubscriberMetrics | undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One subscribe() call: a consumer of one group on some topics. Reads the partitions it owns
 * (PartitionOwnership) on its own connection, as far as `maxInFlight` allows, and runs entries
 * higher lanes first (LaneScheduler). A key's next entry starts only after the previous one was
 * acknowledged, and never while an older entry of the key waits for redelivery; XACK follows the
 * handler's success. A delivery's position is `<lane>:<partition>:<entry id>`.
 *
 * `maxInFlight` bounds the handlers running at once: a handler's slot is free again as soon as
 * it resolved, while its XACK goes out batched with others (AckBatcher); its key stays busy and
 * the entry stays held (and counted by the drain of its partition, not by back-pressure) until
 * the XACK replied — so a lease is never released, nor a subscription closed, with an
 * acknowledgement still unsent. kill() sends none of the unsent ones (they are redelivered).
 *
 * Reads prefetch (see readLoop): up to maxInFlight entries held per stream. Hazard: a read only
 * starts while fewer than maxInFlight entries are held and not handled yet (entries whose XACK
 * is out do not count, so reads overlap acknowledgements), so a message of a higher lane published
 * behind a prefetched backlog waits until that backlog drains below maxInFlight — up to
 * maxInFlight × (streams with data) entries, where it used to be maxInFlight - 1 + streams.
 */
export class StreamsSubscription {
  private readonly ownership: PartitionOwnership;
  private readonly busyKeys = new Set<string>();
  private readonly scheduler = new LaneScheduler();
  private readonly maxInFlight: number;
  /** A read starts once at least this much room is free (half of maxInFlight). */
  private readonly readWatermark: number;
  private readonly acks: AckBatcher;
  /** Entries started and not settled yet: handler running, or its XACK outstanding. */
  private running = 0;
  /** Handlers running (bounded by maxInFlight). */
  private handling = 0;
  /** Entries whose handler succeeded and whose XACK has not replied yet (held, but not counted by back-pressure). */
  private acking = 0;
  private stopping = false;
  private killed = false;
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
  /** The reader's connection closed since the current read was sent (ioredis resends it on reconnect). */
  private readerDropped = false;

  constructor(private readonly context: SubscriptionContext) {
    const { options } = context;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 16);
    this.readWatermark = Math.ceil(this.maxInFlight / 2);
    this.acks = new AckBatcher(context.command, options.group);
    this.ownership = new PartitionOwnership({
      topics: context.topics,
      group: options.group,
      consumer: options.consumer,
      keys: context.keys,
      timing: context.timing,
      command: context.command,
      token: context.token,
    });
    context.reader.on('close', () => {
      this.readerDropped = true;
    });
  }

  private get partitions(): readonly PartitionState[] {
    return this.ownership.partitions;
  }

  /** Creates the consumer groups, joins, and waits up to `joinTimeoutMs` for this consumer's share of partitions. */
  async start(): Promise<void> {
    await this.ownership.createGroups(this.context.options.startFrom);
    await this.tickOnce();
    this.readerLoop = this.readLoop();
    const deadline = Date.now() + this.context.timing.joinTimeoutMs;
    while (!this.stopping && !this.ownership.assignedActive && Date.now() < deadline) {
      await sleep(Math.min(50, this.context.timing.heartbeatMs));
      await this.tickOnce();
    }
    this.scheduleTick();
  }

  /** Stops reading, lets running handlers finish and be acknowledged, releases the leases and leaves the group. */
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
    this.stopping = true;
    clearTimeout(this.tickTimer);
    clearTimeout(this.redeliveryTimer);
    await this.currentTick;
    this.wakeReader?.();
    // A blocked read may still deliver entries: they stay pending and the next owner adopts them.
    this.context.reader.disconnect();
    await this.readerLoop;
    while (this.running > 0 && !this.killed) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    if (!this.killed) await this.ownership.releaseAll();
  }

  private scheduleTick(): void {
    if (this.stopping) return;
    this.tickTimer = setTimeout(() => {
      void this.tickOnce().finally(() => this.scheduleTick());
    }, this.context.timing.heartbeatMs);
  }

  /** Ticks run one after another, never concurrently. */
  private tickOnce(): Promise<void> {
    this.currentTick = this.currentTick.then(async () => {
      if (this.stopping) return;
      await this.ownership.tick(this.stopping).catch(() => undefined); // retried next heartbeat
      this.dispatch();
      this.wakeReader?.();
    });
    return this.currentTick;
  }

  /** Reads from the active partitions while there is room (back-pressure), on the dedicated connection. */
  private async readLoop(): Promise<void> {
    const { reader, options, timing } = this.context;
    let failures = 0;
    while (!this.stopping) {
      const active = this.partitions.filter((part) => part.status === 'active');
      const room = this.readRoom();
      // Low watermark: wait until half the room is free, so reads are not one entry at a time.
      if (active.length === 0 || room < this.readWatermark) {
        await new Promise<void>((resolve) => {
          this.wakeReader = resolve;
          setTimeout(resolve, timing.heartbeatMs).unref();
        });
        continue;
      }
      const streams = active.flatMap((part) => LANES.map((lane) => part.streams[lane]));
      // Prefetch: COUNT (per stream) is the whole room, so one read can fill every slot from a
      // single busy stream. Bound: a read starts only while fewer than maxInFlight entries are
      // held and takes at most maxInFlight - held from each stream, so no stream ever has more
      // than maxInFlight entries held: at most maxInFlight × (streams owned) at once.
      const count = room;
      for (const part of active) part.inRead = true;
      this.readerDropped = false;
      try {
        const reply = await reader.call(
          'XREADGROUP',
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
        );
        failures = 0;
        this.accept(reply);
        // ioredis resent the read after a reconnect: the first one may have delivered too.
        if (this.readerDropped)
          for (const part of active) this.ownership.recoverAfterLostRead(part);
      } catch (error) {
        if (this.stopping) break;
        for (const part of active) this.ownership.recoverAfterLostRead(part);
        if (String((error as Error).message).includes('NOGROUP')) {
          await this.ownership.createGroups(options.startFrom).catch(() => undefined);
        }
        await sleep(Math.min(1_000, 50 * 2 ** failures++));
      } finally {
        for (const part of active) {
          part.inRead = false;
          this.ownership.finishDrain(part);
        }
      }
      this.dispatch();
    }
  }

  /**
   * How many more entries a read may take: maxInFlight minus the entries held and not handled
   * yet. Entries only waiting for their XACK reply do not count: the next read overlaps the acks.
   */
  private readRoom(): number {
    let held = 0;
    for (const part of this.partitions) held += part.held;
    return this.maxInFlight - (held - this.acking);
  }

  /** Wakes a waiting reader only when a read would start (not once per settled entry). */
  private wakeReaderIfRoom(): void {
    if (this.wakeReader && this.readRoom() >= this.readWatermark) this.wakeReader();
  }

  private accept(reply: unknown): void {
    if (!Array.isArray(reply)) return;
    for (const item of reply) {
      if (!Array.isArray(item)) continue;
      const stream = String(item[0]);
      const part = this.ownership.partitionOf(stream);
      const lane = part?.laneOfStream(stream);
      // Entries of a partition we are giving up stay pending: the next owner adopts them.
      if (!part || !lane || part.status !== 'active') continue;
      for (const raw of rawEntries(item[1])) part.add(toHeldEntry(stream, lane, raw, 1));
    }
  }

  /** Starts deliverable entries, higher lanes first (LaneScheduler), while fewer than maxInFlight handlers run. */
  private dispatch(): void {
    if (this.stopping) return;
    const picker = new DeliverablePicker(this.partitions, Date.now(), this.busyKeys);
    // The picker keeps each lane's answer until an entry starts: asking again costs nothing.
    const ready = (candidate: Priority) => picker.first(candidate) !== undefined;
    while (this.handling < this.maxInFlight) {
      const lane = this.scheduler.next(ready);
      if (!lane) break;
      const entry = picker.first(lane)!;
      const part = this.ownership.partitionOf(entry.stream)!;
      picker.started(part, entry.key);
      entry.state = 'running';
      this.busyKeys.add(busyKey(part, entry));
      part.running++;
      this.running++;
      this.handling++;
      void this.run(part, entry);
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
    });
  }

  private async run(part: PartitionState, entry: HeldEntry): Promise<void> {
    const { command, options, metrics } = this.context;
    let keep = false;
    let handling = true; // holds a handler slot (no closure per entry: this path is hot)
    try {
      if (entry.needsClaim) {
        if (!(await claimForRedelivery(command, entry, options.group, options.consumer))) return;
        entry.attempt += 1;
        entry.needsClaim = false;
      }
      const failed = await this.handle(part, entry);
      if (this.killed) return;
      metrics?.settled(part.topic, options.group, failed);
      if (failed) {
        keep = true;
        this.retryLater(entry);
        return;
      }
      // The handler is done: its slot may run another entry, and the reader read more, while the XACK is out.
      handling = false;
      this.handling--;
      this.acking++;
      this.requestDispatch();
      this.wakeReaderIfRoom();
      try {
        await this.acknowledge(part, entry);
      } finally {
        this.acking--;
      }
    } catch {
      // Redis unreachable (claim or ack) or onPoison failed: try again after the redelivery delay.
      keep = true;
      this.retryLater(entry);
    } finally {
      if (!this.killed) {
        if (handling) this.handling--;
        this.settle(part, entry, keep);
      }
    }
  }

  /**
   * Runs the handler; undecodable entries go to onPoison instead. Resolves whether the handler
   * failed. Not an async function: one promise per delivery fewer on the hot path.
   */
  private handle(part: PartitionState, entry: HeldEntry): Promise<boolean> {
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
      return this.handlingFailed(part, entry, error);
    }
    return Promise.resolve(result).then(
      () => false,
      (error: unknown) => this.handlingFailed(part, entry, error),
    );
  }

  /** Undecodable: onPoison, and the entry is done. Anything else: the handler failed. */
  private async handlingFailed(
    part: PartitionState,
    entry: HeldEntry,
    error: unknown,
  ): Promise<boolean> {
    if (!(error instanceof UndecodableMessageError) || this.killed) return true;
    await this.context.onPoison?.({
      topic: part.topic,
      position: positionOf(part, entry),
      group: this.context.options.group,
      raw: entry.raw ?? '',
      reason: error.reason,
    });
    return false;
  }

  private settle(part: PartitionState, entry: HeldEntry, keep: boolean): void {
    if (keep) entry.state = 'waiting';
    else part.remove(entry);
    this.busyKeys.delete(busyKey(part, entry));
    part.running--;
    this.running--;
    if (this.running === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    this.ownership.finishDrain(part);
    this.requestDispatch();
    this.wakeReaderIfRoom();
  }

  /** XACK (batched), retried while the lease lasts; after that the entry stays pending and the next owner runs it again. */
  private async acknowledge(part: PartitionState, entry: HeldEntry): Promise<void> {
    for (let attempt = 0; !this.killed; attempt++) {
      try {
        await this.acks.ack(entry.stream, entry.id);
        return;
      } catch (error) {
        if (!part.leaseValid(Date.now())) throw error;
        await sleep(Math.min(500, 20 * 2 ** attempt));
      }
    }
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
