import { run } from '../03-snapshots/snapshots.example';

describe('03 snapshots (in memory)', () => {
  it('replays 40 of 1 000 events from a snapshot, and rebuilds snapshots after a schema bump', async () => {
    const report = await run({ store: 'memory' });

    expect(report.withoutSnapshots).toMatchObject({
      snapshotVersion: 0,
      replayedEvents: 1000,
      version: 1000,
    });
    expect(report.withSnapshots).toMatchObject({
      snapshotVersion: 960,
      replayedEvents: 40,
      version: 1000,
    });
    // Schema version 2: the v960 snapshot of schema 1 is ignored, the whole stream is folded…
    expect(report.afterBump).toMatchObject({ snapshotVersion: 0, replayedEvents: 1000 });
    // …and the next save snapshots the new state, which the next load starts from.
    expect(report.afterRebuild).toMatchObject({
      snapshotVersion: 1001,
      replayedEvents: 0,
      version: 1001,
    });
    expect(report.balance).toBe(1000); // 999 deposits of 1 before the bump, 1 after
    expect(report.deposits).toBe(1000); // the field only schema 2 has, folded from history
    expect(report.snapshots).toEqual(['v1001 schema 2', 'v960 schema 1']);
  });
});
