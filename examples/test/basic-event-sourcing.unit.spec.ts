import { run } from '../01-basic-event-sourcing/basic-event-sourcing.example';

describe('01 basic event sourcing (in memory)', () => {
  it('stores the commands as events, reloads the state and retries a conflict', async () => {
    const report = await run({ store: 'memory' });

    expect(report.stored).toEqual([
      'v1 AccountOpened {"owner":"ada"}',
      'v2 MoneyDeposited {"amount":100}',
      'v3 MoneyWithdrawn {"amount":30}',
    ]);
    // 100 − 30, refused 500, +10 (teller A), +15 (the racing deposit), −20 (after the retry)
    expect(report.balance).toBe(75);
    expect(report.version).toBe(6);
    expect(report.conflict).toEqual({ expected: 3, actual: 4 });
    expect(report.attempts).toBe(2);
    expect(report.lines).toContain(
      '5. Withdraw 500 refused: cannot withdraw 500, balance is 70; the stream stays at v3',
    );
  });
});
