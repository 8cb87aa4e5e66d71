import { type Priority } from '../messages/envelope';
import { LANES } from '../transport/in-memory/priority.lanes';
import { compareIds, type HeldEntry, type PartitionState } from './redis-streams.partition';

/**
 * Picks the entry of a lane to run next: among active partitions whose lease is valid, the
 * oldest entry whose key is idle (not in its partition's `busyKeys`: a key lives in exactly one
 * partition of a topic) and not preceded by an entry of the same key still waiting — e.g. for
 * its redelivery delay — so that a key's messages run in order.
 *
 * One picker serves one dispatch round (a fixed `now`), during which entries only become less
 * deliverable (started, or their key busy). So each partition's lane is scanned once: a scan
 * remembers where it stopped (and the keys it saw blocked) and resumes there when `started`
 * invalidates its answer — only answers with the started key, in the started partition, are —
 * instead of rescanning from the start per pick; and each lane's best answer across partitions
 * is kept until one of its partition answers changes. Runs per delivery: no Map, no iterator,
 * no string built.
 */
export class DeliverablePicker {
  /** Per lane (index in LANES): the scans of the partitions holding entries of that lane. */
  private readonly scans: (LaneScan[] | undefined)[] = [undefined, undefined, undefined, undefined];
  /** Per lane: the best answer; null: none; undefined: ask the scans again. */
  private readonly best: (HeldEntry | null | undefined)[] = [
    undefined,
    undefined,
    undefined,
    undefined,
  ];

  constructor(
    private readonly partitions: readonly PartitionState[],
    private readonly now: number,
  ) {}

  first(lane: Priority): HeldEntry | undefined {
    const index = LANE_INDEX[lane];
    const known = this.best[index];
    if (known !== undefined) return known ?? undefined;
    let scans = this.scans[index];
    if (!scans) {
      scans = [];
      // Empty lanes (most of them, most of the time) need no scan.
      for (const part of this.partitions) {
        const list = part.lanes[lane];
        if (list.length > 0) scans.push(new LaneScan(part, list, this.now));
      }
      this.scans[index] = scans;
    }
    let best: HeldEntry | undefined;
    for (const scan of scans) {
      const entry = scan.answer();
      if (entry && (!best || compareIds(entry.id, best.id) < 0)) best = entry;
    }
    this.best[index] = best ?? null;
    return best;
  }

  /** `key` of `part` was started (its entry is running, the key busy): answers with that key move on. */
  started(part: PartitionState, key: string): void {
    for (let index = 0; index < LANES.length; index++) {
      const scans = this.scans[index];
      if (!scans) continue;
      for (const scan of scans) {
        if (scan.part === part && scan.current?.key === key) {
          scan.current = undefined;
          this.best[index] = undefined;
        }
      }
    }
  }
}

const LANE_INDEX: Readonly<Record<Priority, number>> = { critical: 0, high: 1, normal: 2, low: 3 };

/** One partition's lane during one dispatch round: scans forward only (see DeliverablePicker). */
class LaneScan {
  /** The deliverable entry found; undefined: look again from `position`. */
  current: HeldEntry | undefined;
  private position = 0;
  private done: boolean;
  private blocked: Set<string> | undefined; // rare (redelivery delays): allocated when needed

  constructor(
    readonly part: PartitionState,
    private readonly list: readonly HeldEntry[],
    private readonly now: number,
  ) {
    this.done = part.status !== 'active' || !part.leaseValid(now);
  }

  answer(): HeldEntry | undefined {
    if (this.current || this.done) return this.current;
    const { list, part, now } = this;
    const busy = part.busyKeys;
    for (; this.position < list.length; this.position++) {
      const entry = list[this.position]!;
      if (entry.state !== 'waiting' || this.blocked?.has(entry.key)) continue;
      if (busy.has(entry.key)) continue;
      if (entry.availableAt <= now) return (this.current = entry);
      (this.blocked ??= new Set()).add(entry.key);
    }
    this.done = true;
    return undefined;
  }
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
