/**
 * How a forward ledger counts a store's appends (see ForwardLedger). An append's events share a
 * unit (the MongoDB store's slot), units are taken in increasing order without gaps, and a
 * checkpoint at `lastOf(unit)` has passed the whole unit.
 */
export interface LedgerUnits {
  /** The unit holding `position`. */
  unitOf(position: number): number;
  /** The highest position `unit` can hold. */
  lastOf(unit: number): number;
  /**
   * The highest unit taken in the store, as far as a cheap source knows (the MongoDB store's
   * slot hint); it may lag but never runs ahead. Infinity when nothing knows.
   */
  head(): Promise<number>;
}

/**
 * What the eager forwarders of every process have published, shared between them (e.g. in
 * Redis), so that the forwarder's rounds can move the checkpoint past it without reading the
 * store — a read that FerretDB answers by scanning every commit (docs/adr/005, session 4).
 *
 * Contract: `record` is called only after the events were published; `advance(from)` resolves
 * `through` ≥ `from` such that every event after `from` up to `through` was recorded (so it is
 * safe to save `through` as the checkpoint), and `caughtUp` when the store holds no unit after
 * `through` as far as LedgerUnits.head knows. It forgets what it passed. A lost `record` only
 * costs a read of the store; a ledger never makes the forwarder skip an event.
 */
export interface ForwardLedger {
  /** These events (all of one append, or the last one of a round's read) reached the bus. */
  record(positions: readonly number[]): Promise<void>;
  advance(from: number): Promise<{ through: number; caughtUp: boolean }>;
  /**
   * Of `positions` (events a round read after its checkpoint), those whose unit is recorded and
   * not yet forgotten: they reached the bus (by whichever process), so the round need not publish
   * them again. Optional; without it a round publishes everything it read but its own eager
   * publications. A position it leaves out is only published again.
   */
  recorded?(positions: readonly number[]): Promise<ReadonlySet<number>>;
}

/**
 * Where advance starts: the unit after `from`'s when the checkpoint passed it whole (or is 0,
 * before every event), else `from`'s own.
 */
export function ledgerStart(units: LedgerUnits, from: number): number {
  const unit = units.unitOf(from);
  return from === 0 || from === units.lastOf(unit) ? unit + 1 : unit;
}

/** advance's answer, once the units from `start` up to `last` (start - 1: none) are known recorded. */
export async function ledgerAdvance(
  units: LedgerUnits,
  from: number,
  start: number,
  last: number,
): Promise<{ through: number; caughtUp: boolean }> {
  const through = last >= start ? units.lastOf(last) : from;
  let head = Infinity;
  try {
    head = await units.head();
  } catch {
    // Unknown: the round reads.
  }
  return { through, caughtUp: last >= head };
}
