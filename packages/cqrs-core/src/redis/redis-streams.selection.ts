import { type Priority } from '../messages/envelope';
import { LANES } from '../transport/in-memory/priority.lanes';
import { compareIds, type HeldEntry, type PartitionState } from './redis-streams.partition';

/** Identifies an order key within a subscription (keys of different topics never block each other). */
export function busyKey(part: PartitionState, entry: HeldEntry): string {
  return (entry.busyKey ??= `${part.topic}\u0000${entry.key}`);
}

/**
 * Picks the entry of a lane to run next: among active partitions whose lease is valid, the
 * oldest entry whose key is idle (`busy` tells) and not preceded by an entry of the same key
 * still waiting — e.g. for its redelivery delay — so that a key's messages run in order.
 *
 * One picker serves one dispatch round (a fixed `now`), during which entries only become less
 * deliverable (started, or their key busy). So each partition's lane is scanned once: a scan
 * remembers where it stopped (and the keys it saw blocked) and resumes there when `started`
 * invalidates its answer — only answers with the started key are — instead of rescanning from
 * the start per pick; and each lane's best answer across partitions is kept until one of its
 * partition answers changes.
 */
export class DeliverablePicker {
  private readonly scans = new Map<Priority, LaneScan[]>();
  private readonly best = new Map<Priority, HeldEntry | null>();

  constructor(
    private readonly partitions: readonly PartitionState[],
    private readonly now: number,
    private readonly busy: ReadonlySet<string>,
  ) {}

  first(lane: Priority): HeldEntry | undefined {
    const known = this.best.get(lane);
    if (known !== undefined) return known ?? undefined;
    let scans = this.scans.get(lane);
    if (!scans) {
      scans = this.partitions.map((part) => new LaneScan(part, part.lanes[lane], this.now));
      this.scans.set(lane, scans);
    }
    let best: HeldEntry | undefined;
    for (const scan of scans) {
      const entry = scan.answer(this.busy);
      if (entry && (!best || compareIds(entry.id, best.id) < 0)) best = entry;
    }
    this.best.set(lane, best ?? null);
    return best;
  }

  /** `key` was started (its entry is running, the key busy): answers with that key move on. */
  started(_part: PartitionState, key: string): void {
    for (const [lane, scans] of this.scans) {
      for (const scan of scans) {
        if (scan.current?.key === key) {
          scan.current = undefined;
          this.best.delete(lane);
        }
      }
    }
  }
}

/** One partition's lane during one dispatch round: scans forward only (see DeliverablePicker). */
class LaneScan {
  /** The deliverable entry found; undefined: look again from `position`. */
  current: HeldEntry | undefined;
  private position = 0;
  private done: boolean;
  private blocked: Set<string> | undefined; // rare (redelivery delays): allocated when needed

  constructor(
    private readonly part: PartitionState,
    private readonly list: readonly HeldEntry[],
    private readonly now: number,
  ) {
    this.done = part.status !== 'active' || !part.leaseValid(now);
  }

  answer(busy: ReadonlySet<string>): HeldEntry | undefined {
    if (this.current || this.done) return this.current;
    const { list, part, now } = this;
    for (; this.position < list.length; this.position++) {
      const entry = list[this.position]!;
      if (entry.state !== 'waiting' || this.blocked?.has(entry.key)) continue;
      if (busy.has(busyKey(part, entry))) continue;
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
