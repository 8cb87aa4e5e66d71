import { CatchUpProgressLog } from './catch-up.progress';
import { type CatchUpProgress } from './read-models.catch-up';

/**
 * A progress log with a clock the test moves, and the lines it wrote. `report` gives a run's
 * reports the time of its first one as `startedAt` unless told otherwise (a run whose first
 * page took no time).
 */
function progressLog() {
  const lines: string[] = [];
  let now = 1_000_000;
  const log = new CatchUpProgressLog(
    (line) => lines.push(line),
    5_000,
    () => now,
  );
  const starts = new Map<number, number>();
  return {
    lines,
    report: (progress: Omit<CatchUpProgress, 'startedAt'> & { startedAt?: number }) => {
      if (!starts.has(progress.run)) starts.set(progress.run, progress.startedAt ?? now);
      log.report({ ...progress, startedAt: starts.get(progress.run)! });
    },
    now: () => now,
    advance: (ms: number) => (now += ms),
  };
}

describe('CatchUpProgressLog', () => {
  it('says when a rebuild starts, how far it is every 5 s, and when it is done', () => {
    const { lines, report, advance } = progressLog();
    report({ events: 500, position: 500_000, run: 1, rebuilding: true, caughtUp: false });
    advance(2_000);
    report({ events: 1_000, position: 1_000_000, run: 1, rebuilding: true, caughtUp: false });
    advance(3_500);
    report({ events: 1_500, position: 1_500_000, run: 1, rebuilding: true, caughtUp: false });
    advance(1_000);
    report({ events: 1_800, position: 1_800_000, run: 1, rebuilding: true, caughtUp: true });
    expect(lines).toEqual([
      'rebuilding the read models from the event store (no checkpoint, or it went back): 500 events applied, at position 500000',
      'rebuilding the read models: 1500 events applied, at position 1500000 (5.5 s, 273 events/s)',
      'rebuilt the read models from the event store: 1800 events applied, at position 1800000, in 6.5 s',
    ]);
  });

  it('keeps the periodic catch-up quiet unless it runs longer than 5 s', () => {
    const { lines, report, advance } = progressLog();
    report({ events: 3, position: 9_000, run: 1, rebuilding: false, caughtUp: true });
    advance(30_000);
    report({ events: 500, position: 600_000, run: 2, rebuilding: false, caughtUp: false });
    advance(6_000);
    report({ events: 1_000, position: 1_100_000, run: 2, rebuilding: false, caughtUp: false });
    advance(1_000);
    report({ events: 1_200, position: 1_300_000, run: 2, rebuilding: false, caughtUp: true });
    expect(lines).toEqual([
      'catching up: 1000 events applied, at position 1100000 (6.0 s, 167 events/s)',
      'caught up: 1200 events applied, at position 1300000, in 7.0 s',
    ]);
  });

  it('counts a run that failed part-way afresh in the next one', () => {
    const { lines, report, advance } = progressLog();
    report({ events: 2_000, position: 2_000_000, run: 1, rebuilding: true, caughtUp: false });
    advance(60_000);
    // The run failed; the next one starts again at 0 events (from the saved checkpoint).
    report({ events: 500, position: 2_500_000, run: 2, rebuilding: false, caughtUp: false });
    advance(1_000);
    report({ events: 600, position: 2_600_000, run: 2, rebuilding: false, caughtUp: true });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^rebuilding the read models from the event store/);
  });

  it('tells a run that follows a failed one and reports as many events as a new run', () => {
    const { lines, report, advance } = progressLog();
    // A rebuild fails after 500 events (Redis away), 60 s after it began.
    report({ events: 500, position: 500_000, run: 1, rebuilding: true, caughtUp: false });
    advance(60_000);
    // The loss is noticed again: a second rebuild, 2 s long, reads 1000 events in its first page.
    report({ events: 1_000, position: 1_000_000, run: 2, rebuilding: true, caughtUp: false });
    advance(2_000);
    report({ events: 1_200, position: 1_200_000, run: 2, rebuilding: true, caughtUp: true });
    expect(lines).toEqual([
      'rebuilding the read models from the event store (no checkpoint, or it went back): 500 events applied, at position 500000',
      'rebuilding the read models from the event store (no checkpoint, or it went back): 1000 events applied, at position 1000000',
      'rebuilt the read models from the event store: 1200 events applied, at position 1200000, in 2.0 s',
    ]);
  });

  it('times a run from when it began, the read of its first page included, not from its first report', () => {
    const { lines, report, advance, now } = progressLog();
    // A rebuild begins; its first page takes 4 s to read (FerretDB scans the collection).
    const rebuildBegan = now();
    advance(4_000);
    report({
      events: 500,
      position: 500_000,
      run: 1,
      startedAt: rebuildBegan,
      rebuilding: true,
      caughtUp: false,
    });
    advance(2_000);
    report({ events: 1_000, position: 1_000_000, run: 1, rebuilding: true, caughtUp: true });
    // A periodic run whose first page alone takes 6 s: longer than 5 s, so it is told.
    advance(30_000);
    const runBegan = now();
    advance(6_000);
    report({
      events: 600,
      position: 1_600_000,
      run: 2,
      startedAt: runBegan,
      rebuilding: false,
      caughtUp: false,
    });
    advance(1_000);
    report({ events: 700, position: 1_700_000, run: 2, rebuilding: false, caughtUp: true });
    expect(lines).toEqual([
      'rebuilding the read models from the event store (no checkpoint, or it went back): 500 events applied, at position 500000',
      'rebuilt the read models from the event store: 1000 events applied, at position 1000000, in 6.0 s',
      'catching up: 600 events applied, at position 1600000 (6.0 s, 100 events/s)',
      'caught up: 700 events applied, at position 1700000, in 7.0 s',
    ]);
  });
});
