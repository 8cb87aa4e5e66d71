import { type CatchUpProgress } from './read-models.catch-up';

/** Default time between two progress lines of one catch-up run. */
export const PROGRESS_EVERY_MS = 5_000;

/**
 * Progress lines of the catch-up (ReadModelsCatchUp.onProgress), so that an operator who
 * rebuilds the read models (the runbook's HDEL of the checkpoint, a Redis back empty) or starts
 * the worker after a long outage sees how far it is. A rebuild says when it starts, every
 * `everyMs` and when it is done; an ordinary run is quiet unless it lasts longer than `everyMs`
 * (the periodic catch-up every 30 s must not fill the log).
 */
export class CatchUpProgressLog {
  private run: { id: number; startedAt: number; toldAt: number; told: boolean } | undefined;

  constructor(
    private readonly log: (message: string) => void,
    private readonly everyMs = PROGRESS_EVERY_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Pass as `onProgress`. */
  readonly report = (progress: CatchUpProgress): void => {
    const now = this.now();
    // By the run's number, not its event count: a run after one that failed or was stopped
    // (no last report) may report as many events as that one did, and is a new run all the same.
    // Timed from when the run began (CatchUpProgress.startedAt), not from this first report,
    // which comes after its first page was read: that read counts in the duration and rate,
    // and an ordinary run whose first page took longer than `everyMs` is told at once.
    if (this.run?.id !== progress.run)
      this.run = {
        id: progress.run,
        startedAt: progress.startedAt,
        toldAt: progress.startedAt,
        told: false,
      };
    const run = this.run;
    const seconds = ((now - run.startedAt) / 1000).toFixed(1);
    const where = `${progress.events} events applied, at position ${progress.position}`;
    if (progress.caughtUp) {
      if (progress.rebuilding)
        this.log(`rebuilt the read models from the event store: ${where}, in ${seconds} s`);
      else if (run.told) this.log(`caught up: ${where}, in ${seconds} s`);
      // The next report starts a new run.
      this.run = undefined;
      return;
    }
    if (progress.rebuilding && !run.told) {
      run.told = true;
      run.toldAt = now;
      this.log(
        `rebuilding the read models from the event store (no checkpoint, or it went back): ${where}`,
      );
      return;
    }
    if (now - run.toldAt < this.everyMs) return;
    run.told = true;
    run.toldAt = now;
    const rate = Math.round(progress.events / Math.max(0.001, (now - run.startedAt) / 1000));
    const what = progress.rebuilding ? 'rebuilding the read models' : 'catching up';
    this.log(`${what}: ${where} (${seconds} s, ${rate} events/s)`);
  };
}
