import { type Priority } from '../messages/envelope';
import { LANES, laneOf } from '../transport/in-memory/priority.lanes';
import { type RedisStreamsLayout } from './redis-streams.options';

const NORMAL_ONLY: readonly Priority[] = ['normal'];

/** Most partitions a layout may have. */
export const MAX_PARTITIONS = 1024;

/**
 * Redis key layout of the Redis Streams transport:
 * - `<prefix><topic>:<lane>:<partition>` — a stream (one per topic, priority lane and partition;
 *   only `normal` when the layout has no priorities);
 * - `<prefix><topic>:group:<group>:members` — sorted set of live consumers (score: last heartbeat, server time);
 * - `<prefix><topic>:group:<group>:lease:<partition>` — who owns a partition (all its lanes) in a group;
 * - `<prefix><topic>:group:<group>:trimmed:<partition>` — hash of copies of held entries that
 *   trimming removed before they succeeded (see redis-streams.kept.ts);
 * - `<prefix><topic>:fan-out-groups` — sorted set of the topic's fan-out groups (see
 *   isFanOutGroup; score: until when, server time, their instance is known to be alive).
 *
 * Hazard: on Redis Cluster the streams of a topic land in different slots; one XREADGROUP over
 * them needs a hash tag in the topic (`{orders}`) — not handled here.
 */
export class StreamKeys {
  readonly prefix: string;
  readonly partitions: number;
  /** The priority lanes of this layout, highest first: all four, or `normal` alone. */
  readonly lanes: readonly Priority[];

  constructor(layout: RedisStreamsLayout) {
    this.prefix = layout.keyPrefix ?? '';
    this.partitions = layout.partitions ?? 8;
    this.lanes = layout.priorities === false ? NORMAL_ONLY : LANES;
    if (
      !Number.isInteger(this.partitions) ||
      this.partitions < 1 ||
      this.partitions > MAX_PARTITIONS
    ) {
      throw new RangeError(
        `partitions must be an integer in 1..${MAX_PARTITIONS}, got ${this.partitions}`,
      );
    }
  }

  /** The lane of a message with this `metadata.priority`. */
  laneOf(priority: unknown): Priority {
    return this.lanes === LANES ? laneOf(priority) : 'normal';
  }

  stream(topic: string, lane: Priority, partition: number): string {
    return `${this.prefix}${topic}:${lane}:${partition}`;
  }

  members(topic: string, group: string): string {
    return `${this.prefix}${topic}:group:${group}:members`;
  }

  lease(topic: string, group: string, partition: number): string {
    return `${this.prefix}${topic}:group:${group}:lease:${partition}`;
  }

  /** Copies of a partition's held entries trimmed before they succeeded (redis-streams.kept.ts). */
  trimmedHeld(topic: string, group: string, partition: number): string {
    return `${this.prefix}${topic}:group:${group}:trimmed:${partition}`;
  }

  fanOutGroups(topic: string): string {
    return `${this.prefix}${topic}:fan-out-groups`;
  }

  /** Every stream of a topic: each lane × partition. */
  streamsOf(topic: string): string[] {
    return this.lanes.flatMap((lane) =>
      Array.from({ length: this.partitions }, (_, p) => this.stream(topic, lane, p)),
    );
  }

  /** The partition of an order key. Stable across processes and releases: FNV-1a (32 bit) of its UTF-8 bytes. */
  partitionOf(key: string): number {
    return fnv1a(key) % this.partitions;
  }
}

/**
 * A fan-out group of one instance that only wants new messages: it starts at the latest entry
 * and carries its consumer's name as its last dot-separated part — as Router.groupOf and
 * groupName() name fan-out groups (`<service>.<handler>.<instanceId>`, consumer `<instanceId>`,
 * startFrom 'latest' by default). Nobody but that instance ever reads it, and recreating it
 * loses nothing its start position promised, so once the instance is gone for long enough the
 * group may be destroyed (see PartitionOwnership). Competing groups (shared: not named after a
 * consumer) and groups that start at 'earliest' (recreating one would replay the streams) never
 * are.
 */
export function isFanOutGroup(options: {
  group: string;
  consumer: string;
  startFrom?: 'earliest' | 'latest';
}): boolean {
  const { group, consumer } = options;
  return (
    options.startFrom === 'latest' &&
    consumer.length > 0 &&
    group.length > consumer.length + 1 &&
    group.endsWith(`.${consumer}`)
  );
}

export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  // ASCII (the usual key): its UTF-8 bytes are its char codes — no Buffer per publish.
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return fnv1aUtf8(text);
    hash ^= code;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

function fnv1aUtf8(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * Which partitions a consumer owns: live members sorted by name, partition p goes to member
 * p mod n. Every consumer computes it from the same member set, so they agree once their views
 * of the set agree; while views differ, leases keep two consumers off one partition.
 */
export function assignedPartitions(
  members: readonly string[],
  me: string,
  partitions: number,
): Set<number> {
  const sorted = [...new Set(members)].sort();
  const index = sorted.indexOf(me);
  const owned = new Set<number>();
  if (index < 0) return owned;
  for (let p = index; p < partitions; p += sorted.length) owned.add(p);
  return owned;
}
