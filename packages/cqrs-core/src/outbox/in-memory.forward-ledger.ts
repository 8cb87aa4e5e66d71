import {
  type ForwardLedger,
  ledgerAdvance,
  ledgerStart,
  type LedgerUnits,
} from './forward-ledger.port';

/** The ForwardLedger of one process (several forwarders of it, or tests): a set of units. */
export class InMemoryForwardLedger implements ForwardLedger {
  private readonly recorded = new Set<number>();

  constructor(private readonly units: LedgerUnits) {}

  async record(positions: readonly number[]): Promise<void> {
    for (const position of positions) this.recorded.add(this.units.unitOf(position));
  }

  async advance(from: number): Promise<{ through: number; caughtUp: boolean }> {
    const start = ledgerStart(this.units, from);
    let last = start - 1;
    while (this.recorded.has(last + 1)) last++;
    for (const unit of this.recorded) if (unit <= last) this.recorded.delete(unit);
    return ledgerAdvance(this.units, from, start, last);
  }
}
