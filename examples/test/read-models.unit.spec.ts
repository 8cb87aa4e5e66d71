import { run } from '../04-read-models/read-models.example';

describe('04 read models (in memory)', () => {
  it('catches up with the history, then reads its own live write after waitFor', async () => {
    const report = await run({ store: 'memory' });

    expect(report.caughtUp).toEqual({
      'account-ada': { owner: 'ada', balance: 70, version: 3 },
      'account-grace': { owner: 'grace', balance: 250, version: 2 },
      'account-linus': { owner: 'linus', balance: 40, version: 2 },
    });
    expect(report.afterLiveWrite).toEqual({ owner: 'grace', balance: 200, version: 3 });
    expect(report.livePosition).toBe(8);
    expect(report.checkpoint).toBe(8);
    // A reader copying it learns that the checkpoint and the read model go together.
    expect(report.lines.at(-1)).toContain('a read model must last as long as its checkpoint');
  });
});
