import { type PendingAdoption } from './redis-streams.options';
import type Redis from 'ioredis';
import { createGroup } from './redis-streams.trimming';
import { adoptPending } from './redis-streams.claims';
import { isMissingGroup } from './redis-streams.errors';
import { assignedPartitions, isFanOutGroup, type StreamKeys } from './redis-streams.keys';
import { type SubscriptionTiming } from './redis-streams.options';
import { type HeldEntry, PartitionState } from './redis-streams.partition';
import {
  deleteIdleConsumers,
  destroyGoneFanOutGroups,
  handOver,
  heartbeat,
  leave,
  registerFanOutGroup,
  takeLease,
  type UnstartedEntry,
} from './redis-streams.scripts';

export interface OwnershipContext {
  readonly topics: readonly string[];
  readonly group: string;
  readonly consumer: string;
  readonly keys: StreamKeys;
  readonly timing: SubscriptionTiming;
  readonly command: Redis;
  /** Unique per subscription: a lease names its holder this way, so a restarted process with the same consumer name is a new holder. */
  readonly token: string;
  /** Where a group that has never consumed starts; 'latest' may make it a fan-out group (isFanOutGroup). */
  readonly startFrom?: 'earliest' | 'latest';
  /** Told when this consumer took over entries another left pending (see RedisStreamsOptions.onAdopted). */
  readonly onAdopted?: (adoption: PendingAdoption) => void;
  /**
   * Told of entries pending in the group (`ids` of `stream`) that trimming removed before they
   * ran again, and that no one will deliver: met by an adoption, or held here (HeldEntry.trimmed)
   * when the partition was given up before they succeeded.
   */
  readonly onTrimmedPending?: (part: PartitionState, stream: string, ids: string[]) => void;
}

/**
 * Which partitions of a group this consumer owns, and the moves between owners.
 *
 * A key hashes to one partition (one stream per priority lane), and a partition is owned by one
 * consumer of the group at a time, which is what keeps a key's messages in order across
 * consumers. Owners are assigned deterministically from the live members of the group (a sorted
 * set of heartbeats, see assignedPartitions); a lease key (SET PX, renewed every heartbeat)
 * keeps the assignment safe while members' views of the set differ:
 * - a consumer reads and dispatches a partition only while it holds the lease, by its own
 *   clock: a read names only partitions whose lease still holds, and blocks no longer than the
 *   shortest of those holds — so a consumer resuming from a stop (SIGSTOP, a paused VM) does
 *   not read what another consumer owns now before its next tick finds out;
 * - it takes a lease only when it is free: released, or lapsed because its holder died;
 * - a consumer that gives a partition up (reassigned, closing) starts nothing new from it, lets
 *   its running handlers finish and acknowledge, waits until no read of its streams is
 *   outstanding, and only then releases the lease — its unstarted entries stay pending, their
 *   delivery counts lowered by one in the same atomic step (handOver): the next owner's claim
 *   raises them again, so an entry read ahead (prefetch) but never run keeps its attempt;
 * - the new owner first adopts every entry still pending in the group for the partition
 *   (XAUTOCLAIM, at once after a release, once idle `claimIdleMs` after a lapse) and only then
 *   reads new ones, so older entries of a key always go first.
 *
 * Hazard: an owner stalled longer than the lease TTL (blocked event loop, network split) may
 * still run a handler when another consumer takes over; `claimIdleMs` above the longest handler
 * run keeps the new owner off that entry: each renewal of the lease restarts the idle time of
 * the entries running (see takeLease), so it counts from the owner's last heartbeat, not from
 * the read (an entry read ahead may wait long behind its key before it starts). An entry
 * started after the last renewal that reached Redis is not covered: its idle time counts from
 * its read or its previous renewal. Hazard: XGROUP DELCONSUMER drops a consumer's pending
 * entries, so only consumers with nothing pending are ever deleted.
 *
 * Fan-out groups of one instance (isFanOutGroup) are registered per topic with their
 * heartbeats; any subscription of the topic destroys those whose instance has been gone for
 * `fanOutGroupIdleMs` (see destroyGoneFanOutGroups), so that instances that come and go (the
 * default instance id is host-pid) leave no groups behind.
 *
 * Redis may lose its data under a running subscription (restarted without persistence,
 * FLUSHALL, an empty replica promoted): streams, groups, leases, member sets and registries are
 * gone, and publishers recreate the streams with XADD — without a group. Member sets, leases and
 * the fan-out registry come back with the next heartbeat; the groups are recreated
 * (repairGroups) by whichever step meets NOGROUP first — a claim, a read, a hand-over — and the
 * partition carries on: see repairGroups for the id they start from.
 */
export class PartitionOwnership {
  readonly partitions: PartitionState[] = [];
  private readonly byStream = new Map<string, PartitionState>();
  private lastCleanup = Date.now();
  private lastGroupCleanup = Date.now();
  /** This subscription's group is a fan-out group of this instance (isFanOutGroup). */
  private readonly fanOut: boolean;
  /** Every partition assigned to this consumer is active (subscribe() waits for it). */
  assignedActive = false;
  /** Since when each partition assigned to this consumer has not been active (see stalled). */
  private readonly inactiveSince = new Map<PartitionState, number>();
  /** Some step met NOGROUP: the next tick recreates the groups (repairGroups). */
  private groupsMissing = false;
  private repairing: Promise<boolean> | undefined;
  /** repairGroups is not tried again before this (backoff: groups that vanish again and again). */
  private nextRepairAt = 0;
  /** Repairs in a row without a clean tick between them (the backoff's exponent). */
  private repairStreak = 0;
  /** 'latest' groups only: the id a recreated group starts after, per stream (see repairGroups). */
  private readonly resumeAfter = new Map<string, string>();
  /** 'latest' groups only: Redis' time when the subscription started, as a stream id. */
  private startedAt = '0';
  /** Hand-overs of completed drains not yet answered (releaseAll waits for them). */
  private readonly handingOver = new Set<Promise<void>>();

  constructor(private readonly context: OwnershipContext) {
    const { keys, group } = context;
    this.fanOut = isFanOutGroup({
      group,
      consumer: context.consumer,
      startFrom: context.startFrom,
    });
    for (const topic of context.topics) {
      for (let p = 0; p < keys.partitions; p++) {
        const part = new PartitionState(
          topic,
          p,
          keys.lease(topic, group, p),
          (lane) => keys.stream(topic, lane, p),
          keys.lanes,
          keys.trimmedHeld(topic, group, p),
        );
        this.partitions.push(part);
        for (const stream of part.streamList) this.byStream.set(stream, part);
      }
    }
  }

  partitionOf(stream: string): PartitionState | undefined {
    return this.byStream.get(stream);
  }

  /**
   * XGROUP CREATE … MKSTREAM on every stream; an existing group keeps its position. Hazard:
   * renaming a group re-consumes everything the streams still hold.
   */
  async createGroups(startFrom: 'earliest' | 'latest' | undefined): Promise<void> {
    const { command, group, keys, timing } = this.context;
    // Alive in the registry first: a janitor never destroys the group once it is created here.
    if (this.fanOut) {
      await Promise.all(
        this.context.topics.map((topic) =>
          registerFanOutGroup(command, keys.fanOutGroups(topic), group, timing.memberTtlMs),
        ),
      );
    }
    if (startFrom === 'latest' && this.startedAt === '0') {
      const [seconds, micros] = (await command.time()).map(Number) as [number, number];
      this.startedAt = `${seconds * 1000 + Math.floor(micros / 1000)}-0`;
    }
    const from = startFrom === 'latest' ? '$' : '0';
    await this.createGroupsFrom(() => from);
  }

  /** XGROUP CREATE … MKSTREAM on every stream, starting at `from(stream)`; an existing group stays. */
  private async createGroupsFrom(from: (stream: string) => string): Promise<void> {
    const { command, group } = this.context;
    await Promise.all(
      [...this.byStream.keys()].map((stream) => createGroup(command, stream, group, from(stream))),
    );
  }

  /**
   * Some step met NOGROUP (a read, a claim for redelivery): the next tick recreates the groups.
   */
  groupsLost(): void {
    this.groupsMissing = true;
  }

  /** A 'latest' group read up to `id` in `stream`: a recreated group starts after it. */
  readUpTo(stream: string, id: string): void {
    this.resumeAfter.set(stream, id);
  }

  /**
   * Recreates the groups (and MKSTREAM the streams, every priority lane) after NOGROUP, once at
   * a time and with backoff — at once the first time, then at most every heartbeatMs × 2^n while
   * groups keep vanishing without a clean tick in between (capped at 30 s) — so a group
   * destroyed again and again never makes a hot loop. Resolves whether it ran and succeeded.
   *
   * From which id: a group lost with Redis' data meets streams that are new — created by the
   * publishers' XADDs since — so an 'earliest' group starts at '0', as at subscribe(): every
   * entry published after the loss, before the group existed again, is delivered. A 'latest'
   * group must not start at '$' as it does at subscribe(): that would skip those same entries.
   * It starts after the last entry it read from the stream, or else at the time it subscribed
   * (Redis' clock): after a loss every entry of the new stream is newer; after a group destroyed
   * while its stream stayed (a janitor took its instance for gone) it resumes where it was
   * rather than re-reading the stream's whole history. Hazard: a Redis whose clock is behind the
   * lost one's (a replica on another host) gives entries older ids, which a 'latest' group
   * skips. Entries pending in the lost group are lost with it (nothing to claim): an entry that
   * was being handled still runs, and its XACK is a no-op.
   */
  async repairGroups(): Promise<boolean> {
    if (this.repairing) return this.repairing;
    const now = Date.now();
    if (now < this.nextRepairAt) return false;
    const { timing } = this.context;
    this.nextRepairAt =
      now + Math.min(30_000, timing.heartbeatMs * 2 ** Math.min(this.repairStreak, 10));
    this.repairStreak++;
    const latest = this.context.startFrom === 'latest';
    this.repairing = (async () => {
      try {
        if (this.fanOut) {
          const { command, group, keys } = this.context;
          await Promise.all(
            this.context.topics.map((topic) =>
              registerFanOutGroup(command, keys.fanOutGroups(topic), group, timing.memberTtlMs),
            ),
          );
        }
        await this.createGroupsFrom((stream) =>
          latest ? (this.resumeAfter.get(stream) ?? this.startedAt) : '0',
        );
        this.groupsMissing = false;
        return true;
      } finally {
        this.repairing = undefined;
      }
    })();
    return this.repairing;
  }

  /**
   * The partitions assigned to this consumer (at the last tick) that have not been active for
   * `boundMs` or longer, as `topic#partition (status)`.
   */
  stalled(now: number, boundMs: number): string[] {
    const stuck: string[] = [];
    for (const [part, since] of this.inactiveSince) {
      if (now - since >= boundMs) stuck.push(`${part.topic}#${part.index} (${part.status})`);
    }
    return stuck;
  }

  /**
   * One heartbeat: joins/refreshes the member set, renews, takes and gives up leases, adopts the
   * pending entries of newly taken partitions, deletes idle consumers. Throws when Redis cannot
   * be reached; leases then lapse by themselves (leaseValidUntil).
   */
  async tick(stopping: boolean): Promise<void> {
    const { command, group, consumer, timing, keys, token } = this.context;
    if (this.groupsMissing && !stopping) await this.repairGroups().catch(() => false);
    let allActive = true;
    let clean = true;
    for (const topic of this.context.topics) {
      const members = await heartbeat(
        command,
        keys.members(topic, group),
        consumer,
        timing.memberTtlMs,
        this.fanOut ? { registry: keys.fanOutGroups(topic), group } : undefined,
      );
      const assigned = assignedPartitions(members, consumer, keys.partitions);
      const parts = this.partitions.filter((part) => part.topic === topic);
      await Promise.all(
        parts.map(async (part) => {
          const mine = assigned.has(part.index) && !stopping;
          if (part.status === 'idle' && !mine) return;
          if ((part.status === 'active' || part.status === 'recovering') && !mine) {
            return this.drain(part, true);
          }
          if (part.status === 'draining' && !part.releaseWhenDrained) return;
          const before = part.status;
          const started = Date.now();
          // A renewal restarts the idle time of the entries running here: a next owner waits
          // claimIdleMs from the last one before it takes them, not from their read.
          const outcome = await takeLease(command, part.leaseKey, token, timing.leaseTtlMs, {
            group,
            consumer,
            streams: part.streamList,
            entries: part.runningEntries(),
          });
          // A drain that completed meanwhile released the lease after this renewal: keep it released.
          if (before === 'draining' && part.status === 'idle') return;
          if (part.status === 'idle') {
            if (outcome === 'lost') return;
            part.claimMinIdleMs = outcome === 'acquired' ? timing.claimIdleMs : 0;
            part.status = 'recovering';
          } else if (outcome !== 'renewed') {
            // It lapsed in between (someone may have had it): start over from idle.
            if (part.status === 'draining') part.releaseWhenDrained = false;
            else this.drain(part, false);
            return;
          }
          part.leaseValidUntil = started + timing.leaseTtlMs;
        }),
      );
      for (const part of parts) {
        if (part.status === 'active' && !part.leaseValid(Date.now())) this.drain(part, false);
      }
      // A partition whose group is gone (NOGROUP) does not hold up the others: the groups are
      // recreated and its adoption tried once more in this tick.
      const adopt = async (part: PartitionState): Promise<boolean> => {
        try {
          const { complete, adopted, trimmed } = await adoptPending(command, part, group, consumer);
          for (const { stream, ids } of trimmed) this.context.onTrimmedPending?.(part, stream, ids);
          if (complete && part.status === 'recovering') part.status = 'active';
          if (adopted > 0)
            this.context.onAdopted?.({
              topic: part.topic,
              partition: part.index,
              group,
              consumer,
              entries: adopted,
            });
          return true;
        } catch (error) {
          if (!isMissingGroup(error)) throw error;
          this.groupsMissing = true;
          return false;
        }
      };
      const recovering = () => parts.filter((p) => p.status === 'recovering' && !stopping);
      const adopted = await Promise.all(recovering().map(adopt));
      if (adopted.includes(false)) {
        clean = false;
        if (await this.repairGroups()) await Promise.all(recovering().map(adopt));
      }
      const now = Date.now();
      for (const part of parts) {
        if (assigned.has(part.index) && part.status !== 'active') {
          allActive = false;
          if (!this.inactiveSince.has(part)) this.inactiveSince.set(part, now);
        } else {
          this.inactiveSince.delete(part);
        }
        this.finishDrain(part);
      }
    }
    this.assignedActive = allActive;
    if (clean && !this.groupsMissing) this.repairStreak = 0;
    await this.deleteIdleConsumers();
    await this.destroyGoneFanOutGroups();
  }

  /** Gives a partition up; `release` when the lease is still ours to hand over cleanly. */
  drain(part: PartitionState, release: boolean): void {
    part.status = 'draining';
    part.releaseWhenDrained = release;
    this.finishDrain(part);
  }

  /**
   * Completes a drain once nothing of the partition runs or is being read: hands the partition
   * over (handOver: unstarted entries keep their attempt) when the lease is still ours.
   */
  finishDrain(part: PartitionState): void {
    if (part.status !== 'draining' || part.inRead || part.running > 0) return;
    const release = part.releaseWhenDrained && part.leaseValid(Date.now());
    const unstarted = release ? part.unstarted() : [];
    this.reportLost(part, part.dropWaiting());
    part.status = 'idle';
    part.readLost = false; // only while the partition stays ours: see giveBackLostReads
    if (!release) return;
    const handing = this.handOver(part, unstarted).catch(() => undefined);
    this.handingOver.add(handing);
    void handing.finally(() => this.handingOver.delete(handing));
  }

  /**
   * Releases the lease of a partition after lowering the delivery counts of the entries held
   * and never started (see HAND_OVER), atomically. Should it fail, the lease lapses and the
   * next owner claims them after claimIdleMs, counting one more delivery.
   */
  private async handOver(
    part: PartitionState,
    unstarted: readonly UnstartedEntry[],
    stillRunning = false,
  ): Promise<void> {
    const { command, token, timing, group, consumer } = this.context;
    await handOver(
      command,
      // With a handler of ours still running (close gave up on it), no 'released' marker: the
      // next owner claims only entries idle claimIdleMs, not the one still being handled —
      // idle since this release, which restarts their idle time.
      { key: part.leaseKey, token, markerTtlMs: stillRunning ? 0 : timing.leaseTtlMs * 10 },
      group,
      consumer,
      part.streamList,
      unstarted,
      stillRunning ? part.runningEntries() : [],
    );
  }

  /**
   * Entries dropped from a partition given up that trimming had removed while held: not pending
   * in the group any more, and no copy of them kept in Redis (redis-streams.kept.ts: its write
   * failed) — so the next owner cannot take them over: reported, per stream. Those with a copy
   * are not lost: the next owner adopts them from it.
   */
  private reportLost(part: PartitionState, dropped: readonly HeldEntry[]): void {
    const lost = dropped.filter((entry) => !entry.kept);
    if (lost.length === 0 || !this.context.onTrimmedPending) return;
    const byStream = new Map<string, string[]>();
    for (const entry of lost) {
      const ids = byStream.get(entry.stream);
      if (ids) ids.push(entry.id);
      else byStream.set(entry.stream, [entry.id]);
    }
    for (const [stream, ids] of byStream) this.context.onTrimmedPending(part, stream, ids);
  }

  /** A read's reply may have been lost while Redis did deliver: adopt our own pending entries again before reading on. */
  recoverAfterLostRead(part: PartitionState): void {
    if (part.status !== 'active') return;
    part.status = 'recovering';
    part.claimMinIdleMs = 0; // ours: we hold the lease and nothing of it runs elsewhere
    part.readLost = true;
  }

  /**
   * On close, once nothing runs (or close gave up on what still runs: closeTimeoutMs): hands
   * every partition whose lease is still held over (its entries read ahead and never started
   * keep their attempt) and leaves the member sets. A partition with a handler still running is
   * released without the 'released' marker, so its next owner waits claimIdleMs.
   */
  async releaseAll(): Promise<void> {
    const { command, keys, group, consumer } = this.context;
    // Hand-overs of drains that completed while closing go out before the member sets are left.
    await Promise.allSettled([...this.handingOver]);
    const now = Date.now();
    await Promise.allSettled(
      this.partitions
        .filter((part) => part.status !== 'idle' && part.leaseValid(now))
        .map((part) => this.handOver(part, part.unstarted(), part.running > 0)),
    );
    await Promise.allSettled(
      this.context.topics.map((topic) => leave(command, keys.members(topic, group), consumer)),
    );
    for (const part of this.partitions) {
      this.reportLost(part, part.dropWaiting());
      part.status = 'idle';
      part.readLost = false;
    }
  }

  /** Deletes consumers idle longer than consumerIdleMs with nothing pending, on the streams we own. */
  private async deleteIdleConsumers(): Promise<void> {
    const { command, group, consumer, timing } = this.context;
    const now = Date.now();
    if (now - this.lastCleanup < Math.max(timing.heartbeatMs, timing.consumerIdleMs / 2)) return;
    this.lastCleanup = now;
    const streams = this.partitions
      .filter((part) => part.status === 'active')
      .flatMap((part) => part.streamList);
    await Promise.all(
      streams.map((stream) =>
        deleteIdleConsumers(command, stream, group, consumer, timing.consumerIdleMs),
      ),
    );
  }

  /**
   * Destroys the fan-out groups of our topics whose instance has been gone (no heartbeat) for
   * fanOutGroupIdleMs — every subscription of a topic does, whatever its own group, so a topic
   * read by anyone is cleaned. Competing groups are never registered, so never destroyed.
   */
  private async destroyGoneFanOutGroups(): Promise<void> {
    const { command, keys, timing } = this.context;
    const idle = timing.fanOutGroupIdleMs;
    const now = Date.now();
    if (!Number.isFinite(idle)) return;
    if (now - this.lastGroupCleanup < Math.max(timing.heartbeatMs, idle / 2)) return;
    this.lastGroupCleanup = now;
    await Promise.all(
      this.context.topics.map((topic) =>
        destroyGoneFanOutGroups(command, keys.fanOutGroups(topic), keys.streamsOf(topic), idle),
      ),
    );
  }
}
