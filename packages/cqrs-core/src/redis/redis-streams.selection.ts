import { type Priority } from '../messages/envelope';
import { LANES } from '../transport/in-memory/priority.lanes';
import { compareIds, type HeldEntry, type PartitionState } from './redis-streams.partition';

/** Identifies an order key within a subscription (keys of different topics never block each other). */
export function busyKey(part: PartitionState, entry: HeldEntry): string {
  return `${part.topic}\u0000${entry.key}`;
}

/**
 * The entry of a lane to run next: among active partitions whose lease is valid, the oldest
 * entry whose key is idle (`busy` tells) and not preceded by an entry of the same key still
 * waiting — e.g. for its redelivery delay — so that a key's messages run in order.
 */
export function firstDeliverable(
  partitions: readonly PartitionState[],
  lane: Priority,
  now: number,
  busy: ReadonlySet<string>,
): HeldEntry | undefined {
  let best: HeldEntry | undefined;
  for (const part of partitions) {
    if (part.status !== 'active' || !part.leaseValid(now)) continue;
    const blocked = new Set<string>();
    for (const entry of part.lanes[lane]) {
      if (entry.state !== 'waiting' || blocked.has(entry.key)) continue;
      if (busy.has(busyKey(part, entry))) continue;
      if (entry.availableAt <= now) {
        if (!best || compareIds(entry.id, best.id) < 0) best = entry;
        break;
      }
      blocked.add(entry.key);
    }
  }
  return best;
}

/** When the next waiting entry becomes available (Infinity when none waits). */
export function earliestWaiting(partitions: readonly PartitionState[]): number {
  let earliest = Infinity;
  for (const part of partitions) {
    for (const lane of LANES) {
      for (const entry of part.lanes[lane]) {
        if (entry.state === 'waiting' && entry.availableAt < earliest) earliest = entry.availableAt;
      }
    }
  }
  return earliest;
}
