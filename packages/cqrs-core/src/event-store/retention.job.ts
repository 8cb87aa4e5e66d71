import { type EventStore, type RetentionPolicy } from './event-store.port';
import { checkDelayMs, checkRetentionPolicy } from './event-store.rules';

export interface RetentionJobOptions {
  store: EventStore;
  policy: RetentionPolicy;
  /** Default 1 h. A positive number of milliseconds, at most 2 147 483 647 (a timer's longest). */
  intervalMs?: number;
  /** After each run: how many events were removed. */
  onRun?: (removed: number) => void;
  /** A failed run is reported and retried at the next interval. */
  onError?: (error: unknown) => void;
}

/**
 * Applies a retention policy periodically (S2-1 cleanup). Runs never overlap; `stop()` waits
 * for the run in progress. Hazard: retention removes events for good — projections that
 * replay from the beginning will not see them, so keep snapshots or read models of what matters.
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  /**
   * @throws TypeError naming the option when the policy is outside the port's ranges (the store
   *   would refuse every run) or `intervalMs` is not a positive number a timer can wait
   */
  constructor(private readonly options: RetentionJobOptions) {
    checkRetentionPolicy(options.policy);
    checkDelayMs('intervalMs', options.intervalMs);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs ?? 3_600_000);
    this.timer.unref();
  }

  /** One run now (skipped if one is already in progress); resolves when it finished. */
  async runOnce(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        const removed = await this.options.store.applyRetention(this.options.policy);
        this.options.onRun?.(removed);
      } catch (error) {
        this.options.onError?.(error);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
