import { progressStreamId, type ProgressEvent } from '@causeway/contracts';
import { type EventStore, MAX_TIMER_MS } from '@causeway/cqrs-core';
import { type TaskExpiries } from './task-expiries';

export interface ProgressRetentionOptions {
  store: EventStore;
  expiries: TaskExpiries;
  /** PROGRESS_HISTORY_TTL_MS: a stream whose last event is older than this is deleted. */
  ttlMs: number;
  /** Default 60 s. */
  intervalMs?: number;
  /** Epoch ms now. Default Date.now. */
  now?: () => number;
  /** After each run: how many task streams were deleted. */
  onRun?: (deleted: number) => void;
  /** A failed run is reported and tried again at the next interval. */
  onError?: (error: unknown) => void;
}

/** Tasks looked at per batch of a run. */
const BATCH = 100;

/**
 * S3-7: hard-deletes the streams of tasks whose last event is older than the TTL. The
 * cqrs-core RetentionJob cuts events by age, a stream prefix at a time, which could leave a task
 * half-deleted (its STARTED gone, its COMPLETED kept); this deletes a task whole, once its last
 * event is old. Candidates come from TaskExpiries; each is checked against its stream's last
 * event first (a newer one, e.g. stored by another instance, moves it forward instead). A hard
 * delete leaves a tombstone: an order redelivered after its task expired appends nothing
 * (OrderProcessor treats StreamDeletedError as done). Runs never overlap; `stop()` waits.
 */
export class ProgressRetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private readonly now: () => number;

  /** @throws TypeError naming `intervalMs` when it is not a delay a timer can wait */
  constructor(private readonly options: ProgressRetentionOptions) {
    const interval = options.intervalMs;
    if (
      interval !== undefined &&
      !(Number.isInteger(interval) && interval > 0 && interval <= MAX_TIMER_MS)
    )
      throw new TypeError(
        `ProgressRetentionJob: intervalMs must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, got ${interval}`,
      );
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs ?? 60_000);
    this.timer.unref();
  }

  /** One run now (or the one in progress); resolves with the streams deleted. */
  async runOnce(): Promise<number> {
    this.running ??= this.run()
      .then(
        (deleted) => {
          this.options.onRun?.(deleted);
          return deleted;
        },
        (error: unknown) => {
          this.options.onError?.(error);
          return 0;
        },
      )
      .finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async run(): Promise<number> {
    const { store, expiries, ttlMs } = this.options;
    const cutoff = this.now() - ttlMs;
    let deleted = 0;
    for (;;) {
      const due = await expiries.due(cutoff, BATCH);
      for (const taskId of due) {
        const streamId = progressStreamId(taskId);
        const [last] = await store.readStream(streamId, { direction: 'backwards', limit: 1 });
        const lastAt = last ? Date.parse((last.data as ProgressEvent).timestamp) : undefined;
        if (lastAt !== undefined && lastAt >= cutoff) {
          await expiries.touch(taskId, lastAt);
          continue;
        }
        if (last) {
          await store.deleteStream(streamId, { mode: 'hard' });
          deleted++;
        }
        await expiries.forget(taskId);
      }
      if (due.length < BATCH) return deleted;
    }
  }
}
