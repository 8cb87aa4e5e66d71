import {
  type ForwardLedger,
  ledgerAdvance,
  ledgerStart,
  type LedgerUnits,
} from './forward-ledger.port';

/** The ForwardLedger of one process (several forwarders of it, or tests): a set of units. */
export class InMemoryForwardLedger implements ForwardLedger {
  private readonly recordedUnits = new Set<number>();

  constructor(private readonly units: LedgerUnits) {}

  async record(positions: readonly number[]): Promise<void> {
    for (const position of positions) this.recordedUnits.add(this.units.unitOf(position));
  }

  async advance(from: number): Promise<{ through: number; caughtUp: boolean }> {
    const start = ledgerStart(this.units, from);
    let last = start - 1;
    while (this.recordedUnits.has(last + 1)) last++;
    for (const unit of this.recordedUnits) if (unit <= last) this.recordedUnits.delete(unit);
    return ledgerAdvance(this.units, from, start, last);
  }

  async recorded(positions: readonly number[]): Promise<ReadonlySet<number>> {
    return new Set(positions.filter((p) => this.recordedUnits.has(this.units.unitOf(p))));
  }
}
