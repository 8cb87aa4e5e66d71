import { type ForwardLedger, type LedgerUnits } from '../outbox/forward-ledger.port';

/** Positions per unit of the suite's units: as the MongoDB store's slots (`slot * 1000 + index`). */
const PER_UNIT = 1_000;

/**
 * The conformance suite of ForwardLedger. `factory(units)` returns a new, empty ledger over
 * `units` (one suite run per implementation; a fresh ledger per test). The suite's units hold
 * 1 000 positions each, as the MongoDB store's slots do, and report a head the test sets.
 */
export function describeForwardLedgerConformance(
  name: string,
  factory: (units: LedgerUnits) => Promise<ForwardLedger>,
): void {
  describe(`${name} forward ledger conformance`, () => {
    /** Units of 1 000 positions; head() answers `head` (throws when it is an Error). */
    const open = async (head: number | Error = Infinity) => {
      const units: LedgerUnits & { headIs: number | Error } = {
        headIs: head,
        unitOf: (position) => Math.floor(position / PER_UNIT),
        lastOf: (unit) => unit * PER_UNIT + PER_UNIT - 1,
        head: async () => {
          if (units.headIs instanceof Error) throw units.headIs;
          return units.headIs;
        },
      };
      return { units, ledger: await factory(units) };
    };
    /** The first position of `unit` and the one after it (an append of two events). */
    const append = (unit: number) => [unit * PER_UNIT, unit * PER_UNIT + 1];

    it('stays where it is while nothing is recorded', async () => {
      const { ledger } = await open(3);
      expect(await ledger.advance(0)).toEqual({ through: 0, caughtUp: false });
      expect(await ledger.advance(1_999)).toEqual({ through: 1_999, caughtUp: false });
    });

    it('advances through the run of recorded units after the checkpoint, and says when it reached the head', async () => {
      const { units, ledger } = await open(3);
      await ledger.record(append(1));
      await ledger.record([...append(2), ...append(3)]);
      expect(await ledger.advance(0)).toEqual({ through: 3_999, caughtUp: true });
      // A head further on: the store holds units the ledger does not know of.
      await ledger.record(append(4));
      units.headIs = 6;
      expect(await ledger.advance(3_999)).toEqual({ through: 4_999, caughtUp: false });
    });

    it('stops at the first unit not recorded, and goes on once it is', async () => {
      const { ledger } = await open(3);
      await ledger.record(append(1));
      await ledger.record(append(3));
      // Unit 2 was not recorded (its publication is still under way, or its record was lost).
      expect(await ledger.advance(0)).toEqual({ through: 1_999, caughtUp: false });
      await ledger.record(append(2));
      expect(await ledger.advance(1_999)).toEqual({ through: 3_999, caughtUp: true });
    });

    it('advances from a checkpoint inside a unit through that unit when it is recorded', async () => {
      const { ledger } = await open(2);
      await ledger.record(append(2));
      // The checkpoint passed part of unit 2 (a round read it): the unit itself comes next.
      expect(await ledger.advance(2_000)).toEqual({ through: 2_999, caughtUp: true });
    });

    it('tells which positions were recorded, and forgets the units it advanced past', async () => {
      const { ledger } = await open();
      await ledger.record(append(1));
      await ledger.record(append(3));
      const read = [1_000, 1_001, 2_000, 3_000, 3_001];
      if (ledger.recorded) {
        expect([...(await ledger.recorded(read))].sort()).toEqual([1_000, 1_001, 3_000, 3_001]);
        expect([...(await ledger.recorded([]))]).toEqual([]);
      }
      expect((await ledger.advance(0)).through).toBe(1_999);
      if (ledger.recorded)
        expect([...(await ledger.recorded(read))].sort()).toEqual([3_000, 3_001]);
      // Forgotten: advancing again from before it does not pass unit 1 on the ledger's word.
      expect(await ledger.advance(0)).toEqual({ through: 0, caughtUp: false });
    });

    it('takes an empty record, and records a unit once however often it is told', async () => {
      const { ledger } = await open(1);
      await ledger.record([]);
      expect(await ledger.advance(0)).toEqual({ through: 0, caughtUp: false });
      await ledger.record(append(1));
      await ledger.record(append(1));
      await ledger.record([1_500]);
      expect(await ledger.advance(0)).toEqual({ through: 1_999, caughtUp: true });
    });

    it('still advances when the head cannot be read, but does not claim to be caught up', async () => {
      const { ledger } = await open(new Error('slot hint unavailable'));
      await ledger.record(append(1));
      expect(await ledger.advance(0)).toEqual({ through: 1_999, caughtUp: false });
    });
  });
}
