import { type TrimmedUnread } from './redis-streams.trimming';
import type Redis from 'ioredis';
import { type Registry } from 'prom-client';
import { type MessageSerializer } from '../messages/serializer.port';
import { type PoisonMessage, type TransportFeatures } from '../transport/transport.port';
import { shownValue } from '../config/shown-value';
import { checkTimings, type TimingRule } from '../transport/timing-options.check';

/** Entries of a partition a consumer took over from a previous owner (or an earlier self). */
export interface PendingAdoption {
  topic: string;
  partition: number;
  group: string;
  consumer: string;
  /** How many entries were taken over. */
  entries: number;
}

export const REDIS_STREAMS_FEATURES: TransportFeatures = {
  persistent: true,
  priorities: true,
  redeliversFromDeadConsumers: true,
};

/**
 * What publishers and subscribers of one deployment must agree on. Hazard: changing `keyPrefix`
 * or `partitions` of a running deployment moves keys to other streams — messages left in the
 * old streams are not consumed any more and per-key order breaks across the change; drain first.
 */
export interface RedisStreamsLayout {
  /** Prepended to every Redis key (streams, leases, member sets). Default ''. */
  keyPrefix?: string;
  /** Streams per topic and priority lane; the order key (aggregateId) picks one. Default 8. */
  partitions?: number;
  /**
   * Priority lanes (critical, high, normal, low: a stream each per partition). Default true.
   * false: one lane, `normal` (the same streams as the normal lane): every message goes there
   * whatever its `metadata.priority` (which it keeps), in publish order. Every blocking read
   * then waits on a quarter of the streams; on Redis 7.0 a blocking XREADGROUP costs ~1.5 µs of
   * server time per stream it names (docs/adr/004, session 6), so a deployment that never sets
   * priorities saves that. Turning lanes off strands entries still waiting in the other lanes:
   * drain them first.
   */
  priorities?: boolean;
}

export interface RedisStreamsPublisherOptions extends RedisStreamsLayout {
  /** A shared connection (see redisConnection); the publisher never closes it. */
  client: Redis;
  serializer: MessageSerializer;
  /**
   * Entries kept per stream, approximately (`XADD MAXLEN ~`): a number for every topic, or the
   * number for each topic (e.g. fewer for a topic nothing reads for long). Default 100 000.
   * Redis trims whole internal nodes (100 entries by default), so a stream may hold that many
   * more.
   */
  maxLenPerStream?: number | ((topic: string) => number);
  /**
   * Refuse messages whose wire form is larger. Default DEFAULT_MAX_WIRE_BYTES (1.5 MiB + 64 KiB):
   * above the serializers' default limit, so any event a store accepted can be published.
   */
  maxMessageBytes?: number;
  /** Adds `causeway_transport_published_total` when given. */
  registry?: Registry;
}

export interface RedisStreamsSubscriberOptions extends RedisStreamsLayout {
  /**
   * A connection to copy settings from. The subscriber opens its own connections with
   * `client.duplicate()` (one for commands, one per subscription for blocking reads) and never
   * touches this one.
   */
  client: Redis;
  serializer: MessageSerializer;
  /**
   * Receives messages that cannot be decoded; they are acknowledged and never redelivered.
   * Default: warnOfPoison (a process warning; the message is dropped): pass
   * poisonToDeadLetters(queue).
   */
  onPoison?: (poison: PoisonMessage) => void | Promise<void>;
  /**
   * Told at subscribe when trimming (the publisher's `maxLenPerStream`) removed entries of a
   * topic before this consumer group read them: the group skips them (see
   * redis-streams.trimming.ts; Redis ≥ 7 counts them). Also told, with `pendingIds`, of entries
   * the group had read and never acknowledged (a consumer died, or their handler failed) that
   * trimming removed before they ran again — when a consumer meets them taking over the entries
   * of a dead consumer (one that held them keeps a copy in Redis instead, and they are not lost:
   * see RedisStreamsSubscriber); they are lost, and counted by
   * `causeway_consumer_trimmed_pending_total` when `registry` is given.
   * Default: warnOfTrimming (a process warning, `CausewayTrimWarning`).
   */
  onTrimmed?: (loss: TrimmedUnread & { topic: string }) => void;
  /**
   * Told when a consumer took over entries of a partition that were left pending: by a dead
   * owner (after `claimIdleMs`), by one that handed the partition over, or by this consumer
   * before it lost track of them. They run first, at their next attempt: a long run of them
   * (a dead instance's backlog) explains a partition that is slow for a while. Default: nothing.
   */
  onAdopted?: (adoption: PendingAdoption) => void;
  /** Delay before a message whose handler failed is delivered again. Default 1 000 ms. */
  redeliveryDelayMs?: number;
  /** Longest wait of one blocking read; also bounds how late a newly owned partition is read. Default 1 000 ms. */
  blockMs?: number;
  /** Heartbeat and lease renewal period. Default 1 000 ms. */
  heartbeatMs?: number;
  /**
   * A partition lease lapses this long after its last renewal. A consumer that cannot renew
   * (stalled event loop, lost network) for this long stops taking messages of the partition.
   * Default 10 000 ms; keep it several heartbeats long.
   */
  leaseTtlMs?: number;
  /** A consumer without a heartbeat for this long leaves the assignment. Default = leaseTtlMs. */
  memberTtlMs?: number;
  /**
   * Entries of a consumer whose lease lapsed (it crashed) are claimed once idle this long.
   * Keep it above the longest handler run: a stalled-but-alive owner may still be running one.
   * An entry's idle time restarts at each heartbeat of its owner while its handler runs (and
   * when a close that gave up on it releases the partition), so this counts from the owner's
   * last heartbeat, not from the read — an entry read ahead waits behind its key before it runs
   * (since session 47). Hazard: an entry started after the owner's last heartbeat that reached
   * Redis is counted from its read (or its previous heartbeat). Default 30 000 ms.
   */
  claimIdleMs?: number;
  /** Consumers idle this long with nothing pending are deleted from the group. Default 1 h. */
  consumerIdleMs?: number;
  /**
   * A fan-out group of one instance (startFrom 'latest', named after its consumer: see
   * isFanOutGroup) whose instance has not heartbeated for `memberTtlMs` + this long is
   * destroyed by any live subscriber of its topic, with everything still pending or unread in
   * it. An instance that comes back sooner under the same id (a stable id, e.g. a StatefulSet)
   * finds its group as it left it; later, a new group starting at the latest entry. Infinity
   * keeps them for ever. Default = consumerIdleMs.
   */
  fanOutGroupIdleMs?: number;
  /**
   * Entries a subscription may hold per stream — read and not acknowledged yet — ahead of its
   * handlers (at least its maxInFlight): fewer, larger reads, and handlers kept busy while the
   * next read is out. It bounds memory per stream (~1 KB an entry of ~700 wire bytes). A read
   * starts once every stream has half of it free, or 32 entries (half of maxInFlight if that is
   * more) when that is fewer: a message of a drained higher lane waits behind at most that many
   * entries of a lower lane's backlog per stream (not `prefetch` / 2: since session 44).
   * Default 128 (64 until session 44).
   */
  prefetch?: number;
  /** How long subscribe() waits for this consumer's share of partitions. Default 2 × leaseTtlMs. */
  joinTimeoutMs?: number;
  /**
   * Longest close() waits for deliveries in flight. After it, the ones still running are
   * abandoned unacknowledged: their entries stay pending and the group's next owner of the
   * partition claims them once idle claimIdleMs from the release (at-least-once; the attempt
   * count goes on).
   * Acknowledgements of the deliveries that finished are written first, unstarted entries are
   * handed over and the leases released, as in a close in time. JavaScript cannot stop a
   * handler: an abandoned one runs on, and its result is ignored. Keep it below the platform's
   * shutdown grace period (Kubernetes: 30 s by default). Default 25 000 ms.
   */
  closeTimeoutMs?: number;
  /**
   * The subscriber's health probe (RedisStreamsSubscriber.probe) reports down when a partition
   * assigned to a subscription has not been active for this long, or when its heartbeats or
   * reads have failed for this long — it cannot make progress (Redis unreachable, groups that
   * cannot be recreated, a lease that never frees). Keep it above the longest legitimate
   * take-over: a dead owner's lease lapses (leaseTtlMs) and its entries are claimed once idle
   * claimIdleMs. Default leaseTtlMs + claimIdleMs + 2 × heartbeatMs.
   */
  stuckAfterMs?: number;
  /** Adds consumed / failed / trimmed-pending counters when given. */
  registry?: Registry;
}

export interface SubscriptionTiming {
  readonly redeliveryDelayMs: number;
  readonly blockMs: number;
  readonly heartbeatMs: number;
  readonly leaseTtlMs: number;
  readonly memberTtlMs: number;
  readonly claimIdleMs: number;
  readonly consumerIdleMs: number;
  readonly fanOutGroupIdleMs: number;
  readonly joinTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly prefetch: number;
  readonly stuckAfterMs: number;
}

/** The subscriber's timing settings and what each may be (checkTimings). */
const TIMING_RULES: Readonly<Record<string, TimingRule>> = {
  redeliveryDelayMs: { zero: true, timer: true },
  blockMs: { timer: true, whole: true },
  heartbeatMs: { timer: true },
  leaseTtlMs: { timer: true, whole: true },
  memberTtlMs: {},
  claimIdleMs: { zero: true, whole: true },
  consumerIdleMs: {},
  fanOutGroupIdleMs: { infinite: true },
  joinTimeoutMs: { zero: true, timer: true },
  closeTimeoutMs: { zero: true, timer: true },
  stuckAfterMs: {},
};

/**
 * The subscriber's timing with its defaults.
 * @throws TypeError naming a timing setting that is not a number of milliseconds it can use
 *   (checkTimings), or `prefetch` when it is not a positive integer
 * @throws RangeError when `leaseTtlMs` is below 2 × `heartbeatMs`
 */
export function subscriptionTiming(options: RedisStreamsSubscriberOptions): SubscriptionTiming {
  checkTimings(
    'RedisStreamsSubscriber',
    options as unknown as Record<string, unknown>,
    TIMING_RULES,
  );
  if (
    options.prefetch !== undefined &&
    !(Number.isSafeInteger(options.prefetch) && options.prefetch > 0)
  )
    throw new TypeError(
      `RedisStreamsSubscriber: options.prefetch must be a positive integer, got ${shownValue(options.prefetch)}`,
    );
  const leaseTtlMs = options.leaseTtlMs ?? 10_000;
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  if (leaseTtlMs < heartbeatMs * 2) {
    throw new RangeError(
      `leaseTtlMs (${leaseTtlMs}) must be at least 2 × heartbeatMs (${heartbeatMs})`,
    );
  }
  const consumerIdleMs = options.consumerIdleMs ?? 3_600_000;
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  return {
    redeliveryDelayMs: options.redeliveryDelayMs ?? 1_000,
    blockMs: options.blockMs ?? 1_000,
    heartbeatMs,
    leaseTtlMs,
    memberTtlMs: options.memberTtlMs ?? leaseTtlMs,
    claimIdleMs,
    consumerIdleMs,
    fanOutGroupIdleMs: options.fanOutGroupIdleMs ?? consumerIdleMs,
    joinTimeoutMs: options.joinTimeoutMs ?? leaseTtlMs * 2,
    closeTimeoutMs: options.closeTimeoutMs ?? 25_000,
    prefetch: options.prefetch ?? 128,
    stuckAfterMs: options.stuckAfterMs ?? leaseTtlMs + claimIdleMs + 2 * heartbeatMs,
  };
}
