import { type Priority } from '../messages/envelope';
import { LANES } from '../transport/in-memory/priority.lanes';
import { compareIds, type HeldEntry, type PartitionState } from './redis-streams.partition';

/** Identifies an order key within a subscription (keys of different topics never block each other). */
export function busyKey(part: PartitionState, entry: HeldEntry): string {
  return `${part.topic}\u0000${entry.key}`;
}

/**
 * Picks the entry of a lane to run next: among active partitions whose lease is valid, the
 * oldest entry whose key is idle (`busy` tells) and not preceded by an entry of the same key
 * still waiting — e.g. for its redelivery delay — so that a key's messages run in order.
 *
 * One picker serves one dispatch round (a fixed `now`) and remembers each partition's answer:
 * starting an entry changes only the answer of its own partition and answers with the same key
 * (now busy), so `started` forgets just those instead of rescanning every partition per pick.
 */
export class DeliverablePicker {
  private readonly cache = new Map<PartitionState, Map<Priority, HeldEntry | null>>();

  constructor(
    private readonly partitions: readonly PartitionState[],
    private readonly now: number,
    private readonly busy: ReadonlySet<string>,
  ) {}

  first(lane: Priority): HeldEntry | undefined {
    let best: HeldEntry | undefined;
    for (const part of this.partitions) {
      let answers = this.cache.get(part);
      if (!answers) this.cache.set(part, (answers = new Map()));
      let entry = answers.get(lane);
      if (entry === undefined) {
        entry = firstOfPartition(part, lane, this.now, this.busy) ?? null;
        answers.set(lane, entry);
      }
      if (entry && (!best || compareIds(entry.id, best.id) < 0)) best = entry;
    }
    return best;
  }

  started(part: PartitionState, key: string): void {
    this.cache.delete(part);
    for (const answers of this.cache.values()) {
      for (const [lane, entry] of answers) if (entry?.key === key) answers.delete(lane);
    }
  }
}

function firstOfPartition(
  part: PartitionState,
  lane: Priority,
  now: number,
  busy: ReadonlySet<string>,
): HeldEntry | undefined {
  if (part.status !== 'active' || !part.leaseValid(now)) return undefined;
  let blocked: Set<string> | undefined; // rare (redelivery delays): allocated when needed
  for (const entry of part.lanes[lane]) {
    if (entry.state !== 'waiting' || blocked?.has(entry.key)) continue;
    if (busy.has(busyKey(part, entry))) continue;
    if (entry.availableAt <= now) return entry;
    (blocked ??= new Set()).add(entry.key);
  }
  return undefined;
}

/** When the next entry waiting for its redelivery delay becomes available (Infinity when none waits after `now`). */
export function earliestWaiting(partitions: readonly PartitionState[], now: number): number {
  let earliest = Infinity;
  for (const part of partitions) {
    for (const lane of LANES) {
      for (const entry of part.lanes[lane]) {
        const at = entry.availableAt;
        if (entry.state === 'waiting' && at > now && at < earliest) earliest = at;
      }
    }
  }
  return earliest;
}
