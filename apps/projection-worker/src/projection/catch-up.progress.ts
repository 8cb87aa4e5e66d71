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
  private run: { startedAt: number; toldAt: number; events: number; told: boolean } | undefined;

  constructor(
    private readonly log: (message: string) => void,
    private readonly everyMs = PROGRESS_EVERY_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Pass as `onProgress`. */
  readonly report = (progress: CatchUpProgress): void => {
    const now = this.now();
    // A run that failed or was stopped never caught up: the next one counts from 0 again.
    if (!this.run || progress.events < this.run.events)
      this.run = { startedAt: now, toldAt: now, events: 0, told: false };
    const run = this.run;
    run.events = progress.events;
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
