import { type Priority } from '../messages/envelope';
import { LANES } from '../transport/in-memory/priority.lanes';
import { ENTRY_KEY_FIELD, ENTRY_MESSAGE_FIELD } from './redis-streams.publisher';

/**
 * An entry this consumer holds: read or claimed, not yet acknowledged. It stays in the
 * consumer's pending list in Redis the whole time, which is what lets a next owner take it over.
 */
export interface HeldEntry {
  readonly id: string;
  readonly stream: string;
  readonly lane: Priority;
  /** The order key (aggregateId); '' when the entry has none. */
  readonly key: string;
  /** The wire text; undefined when the entry has no message field (poison). */
  readonly raw: string | undefined;
  /** Deliveries so far as Redis counts them, this one included once running. */
  attempt: number;
  /** Not before this time (redelivery delay after a failed handler). */
  availableAt: number;
  /** Failed before: claim it to ourselves again (XCLAIM bumps Redis' delivery count) before the next run. */
  needsClaim: boolean;
  state: 'waiting' | 'running';
  /** XACKs of this entry that failed in a row (backoff of the next one). */
  ackFailures: number;
  /**
   * Trimming (`MAXLEN ~`) removed the entry from its stream while it was held, and Redis dropped
   * it from the group's pending list when a claim met it: there is nothing to claim or
   * acknowledge any more (an XACK is a no-op). It still runs, at its next attempt, from the copy
   * held here — and from a copy kept in Redis (`kept`), so that a crash or a move of the
   * partition before it succeeded does not lose it: the next owner adopts it from there.
   */
  trimmed: boolean;
  /**
   * A copy of this trimmed entry is kept in Redis (redis-streams.kept.ts) until a handler
   * succeeds. False on a trimmed entry only while that write has not succeeded yet: it is
   * written before the entry runs again; one dropped so is lost, and reported (onTrimmed).
   */
  kept: boolean;
}

/**
 * - idle: not ours (not assigned, or lease held by another consumer);
 * - recovering: lease taken; adopting the pending entries left in its streams before reading new ones;
 * - active: read and dispatched;
 * - draining: no longer ours (reassigned, lease lapsed, closing); nothing new starts, running
 *   entries finish, then the held entries are dropped (they stay pending for the next owner) and
 *   the lease is released.
 */
export type PartitionStatus = 'idle' | 'recovering' | 'active' | 'draining';

/** One partition of one topic, as seen by one consumer of a group: all its priority lanes. */
export class PartitionState {
  status: PartitionStatus = 'idle';
  /** Local time after which the lease may have lapsed (from the start of the last renewal). */
  leaseValidUntil = 0;
  /** Claim pending entries idle at least this long while recovering (0 after a clean hand-over). */
  claimMinIdleMs = 0;
  /** Release the lease (clean hand-over) when drained; false when it lapsed and is not ours any more. */
  releaseWhenDrained = false;
  /**
   * A read reply of this active partition may have been lost (recoverAfterLostRead): entries
   * pending here that no handler saw are given their delivery back before they are adopted.
   */
  readLost = false;
  /** A blocking read that includes this partition's streams is outstanding. */
  inRead = false;
  running = 0;
  /**
   * Order keys with an entry running (handler or XACK outstanding) — a key lives in exactly
   * one partition of a topic, so this is the per-key lock of the whole subscription.
   */
  readonly busyKeys = new Set<string>();
  readonly lanes: Record<Priority, HeldEntry[]> = { critical: [], high: [], normal: [], low: [] };
  readonly streams: Record<Priority, string>;
  private readonly laneByStream = new Map<string, Priority>();
  /** Ids of the held entries, per lane (a lane is one stream): no string built per lookup. */
  private readonly ids: Record<Priority, Set<string>> = {
    critical: new Set(),
    high: new Set(),
    normal: new Set(),
    low: new Set(),
  };

  /** The streams of its lanes (`laneList`), in the same order. */
  readonly streamList: readonly string[];

  /**
   * `laneList`: the lanes of the layout, highest first (StreamKeys.lanes); `streams` names a
   * stream only for those.
   */
  constructor(
    readonly topic: string,
    readonly index: number,
    readonly leaseKey: string,
    streamOf: (lane: Priority) => string,
    readonly laneList: readonly Priority[] = LANES,
    /** Copies of held entries trimmed before they succeeded (StreamKeys.trimmedHeld). */
    readonly keptKey: string = `${leaseKey}:trimmed`,
  ) {
    this.streams = { critical: '', high: '', normal: '', low: '' };
    for (const lane of laneList) {
      this.streams[lane] = streamOf(lane);
      this.laneByStream.set(this.streams[lane], lane);
    }
    this.streamList = laneList.map((lane) => this.streams[lane]);
  }

  laneOfStream(stream: string): Priority | undefined {
    return this.laneByStream.get(stream);
  }

  /** Ids repeat across streams (a batch gets the same id in every stream it touches): ask per stream. */
  holds(stream: string, id: string): boolean {
    const lane = this.laneByStream.get(stream);
    return lane !== undefined && this.ids[lane].has(id);
  }

  get held(): number {
    const { ids } = this;
    return ids.critical.size + ids.high.size + ids.normal.size + ids.low.size;
  }

  heldIn(lane: Priority): number {
    return this.lanes[lane].length;
  }

  /** Held entries of a lane still pending in the group (not trimmed): a scan, for adoptions only. */
  pendingHeldIn(lane: Priority): number {
    let count = 0;
    for (const entry of this.lanes[lane]) if (!entry.trimmed) count++;
    return count;
  }

  /** Adds an entry in id order (so adopted older entries go before newer reads). False if held already. */
  add(entry: HeldEntry): boolean {
    const ids = this.ids[entry.lane];
    if (ids.has(entry.id)) return false;
    ids.add(entry.id);
    const list = this.lanes[entry.lane];
    let index = list.length;
    while (index > 0 && compareIds(list[index - 1]!.id, entry.id) > 0) index--;
    if (index === list.length) list.push(entry);
    else list.splice(index, 0, entry);
    return true;
  }

  remove(entry: HeldEntry): void {
    if (!this.ids[entry.lane].delete(entry.id)) return;
    const list = this.lanes[entry.lane];
    const index = list.indexOf(entry);
    if (index >= 0) list.splice(index, 1);
  }

  /**
   * Held entries no handler has seen at their current delivery count: read or adopted, and not
   * started since (a failed entry, waiting to be claimed again, did run at its count).
   */
  unstarted(): HeldEntry[] {
    const entries: HeldEntry[] = [];
    for (const lane of this.laneList) {
      for (const entry of this.lanes[lane])
        if (entry.state === 'waiting' && !entry.needsClaim) entries.push(entry);
    }
    return entries;
  }

  /**
   * Forgets the waiting entries (they stay pending in Redis for the next owner). Running ones
   * are kept. Returns those of them that trimming removed while held (`trimmed`): no one else
   * can deliver them any more.
   */
  dropWaiting(): HeldEntry[] {
    const lost: HeldEntry[] = [];
    for (const lane of this.laneList) {
      for (const entry of this.lanes[lane].filter((e) => e.state === 'waiting')) {
        this.remove(entry);
        if (entry.trimmed) lost.push(entry);
      }
    }
    return lost;
  }

  /**
   * Held entries still pending in the group whose handler runs here (or whose XACK is out): a
   * scan, once per heartbeat and only while `running` > 0 (see takeLease).
   */
  runningEntries(): HeldEntry[] {
    const entries: HeldEntry[] = [];
    if (this.running === 0) return entries;
    for (const lane of this.laneList) {
      for (const entry of this.lanes[lane])
        if (entry.state === 'running' && !entry.trimmed) entries.push(entry);
    }
    return entries;
  }

  /** The held entry `id` of `stream`, if any (a scan: for rare paths only). */
  find(stream: string, id: string): HeldEntry | undefined {
    const lane = this.laneByStream.get(stream);
    if (lane === undefined || !this.ids[lane].has(id)) return undefined;
    return this.lanes[lane].find((entry) => entry.id === id);
  }

  leaseValid(now: number): boolean {
    return now < this.leaseValidUntil;
  }
}

/** Orders stream entry ids (`<ms>-<seq>`). Hot (every dispatch): no arrays allocated. */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  const aDash = a.indexOf('-');
  const bDash = b.indexOf('-');
  if (aDash > 0 && bDash > 0) {
    // Both `<ms>-<seq>` (as Redis writes them: no leading zeros). Digit runs of equal lengths
    // order as their text does: one native comparison in the common case; else digit by digit,
    // no allocation.
    if (aDash === bDash && a.length === b.length) return a === b ? 0 : a < b ? -1 : 1;
    const byMs = compareDigits(a, 0, aDash, b, 0, bDash);
    return byMs !== 0 ? byMs : compareDigits(a, aDash + 1, a.length, b, bDash + 1, b.length);
  }
  const aMs = Number(aDash < 0 ? a : a.slice(0, aDash));
  const bMs = Number(bDash < 0 ? b : b.slice(0, bDash));
  if (aMs !== bMs) return aMs - bMs;
  return Number(aDash < 0 ? 0 : a.slice(aDash + 1)) - Number(bDash < 0 ? 0 : b.slice(bDash + 1));
}

/** Compares two runs of decimal digits without leading zeros: the longer is larger, else by digit. */
function compareDigits(
  a: string,
  aFrom: number,
  aTo: number,
  b: string,
  bFrom: number,
  bTo: number,
): number {
  const length = aTo - aFrom;
  if (length !== bTo - bFrom) return length - (bTo - bFrom);
  for (let i = 0; i < length; i++) {
    const d = a.charCodeAt(aFrom + i) - b.charCodeAt(bFrom + i);
    if (d !== 0) return d;
  }
  return 0;
}

/** A stream entry as Redis replies it: `[id, [field, value, …]]`. */
export type RawStreamEntry = [string, string[] | null];

export function toHeldEntry(
  stream: string,
  lane: Priority,
  [id, fields]: RawStreamEntry,
  attempt: number,
): HeldEntry {
  let key = '';
  let raw: string | undefined;
  const list = fields ?? [];
  for (let i = 0; i + 1 < list.length; i += 2) {
    if (list[i] === ENTRY_KEY_FIELD) key = String(list[i + 1]);
    else if (list[i] === ENTRY_MESSAGE_FIELD) raw = String(list[i + 1]);
  }
  return {
    id,
    stream,
    lane,
    key,
    raw,
    attempt,
    availableAt: 0,
    needsClaim: false,
    state: 'waiting',
    ackFailures: 0,
    trimmed: false,
    kept: false,
  };
}

/** Parses a list of entries defensively (deleted entries come back as nil in some versions). */
export function rawEntries(value: unknown): RawStreamEntry[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (item): item is RawStreamEntry => Array.isArray(item) && typeof item[0] === 'string',
  );
}
