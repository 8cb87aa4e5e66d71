import { run } from '../02-custom-collections/custom-collections.example';

describe('02 custom collections (in memory)', () => {
  it('keeps each context its own stream and snapshots under one stream id', async () => {
    const report = await run({ store: 'memory' });

    expect(report.balances).toEqual({ billing: 150, savings: 1000 });
    expect(report.snapshotVersions).toEqual({ billing: 2, savings: 2 });
    expect(report.created).toEqual([]);
  });
});
