import { run } from '../05-event-versioning/event-versioning.example';

describe('05 event versioning (in memory)', () => {
  it('reads FundsAdded v1 and v2 as MoneyDeposited v3 without rewriting them', async () => {
    const report = await run({ store: 'memory' });

    expect(report.stored).toEqual([
      { type: 'FundsAdded', schemaVersion: 1, data: { amount: 12.5 } },
      { type: 'FundsAdded', schemaVersion: 2, data: { amount: 20, currency: 'USD' } },
      { type: 'MoneyDeposited', schemaVersion: 3, data: { amountCents: 500, currency: 'EUR' } },
    ]);
    expect(report.read).toEqual([
      { type: 'MoneyDeposited', schemaVersion: 3, data: { amountCents: 1250, currency: 'EUR' } },
      { type: 'MoneyDeposited', schemaVersion: 3, data: { amountCents: 2000, currency: 'USD' } },
      { type: 'MoneyDeposited', schemaVersion: 3, data: { amountCents: 500, currency: 'EUR' } },
    ]);
    expect(report.totalsCents).toEqual({ EUR: 1750, USD: 2000 });
    expect(report.foundByNewName).toBe(3);
  });
});
