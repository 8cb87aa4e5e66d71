import { Counter, type Registry } from 'prom-client';
import { type ProgressRetentionRun } from './progress-retention.job';

/** What this instance's retention runs did, as Prometheus counters an operator can alert on. */
export class RetentionMetrics {
  /** Due tasks per run outcome: `deleted`, `expired`, `failed` (not retired), `skipped` (running here). */
  readonly tasks: Counter<'outcome'>;
  /** The order topic's dead letters purged, dead-lettered more than the TTL ago. */
  readonly deadLettersPurged: Counter;
  /** Runs that failed as a whole (the retention index unreachable, …): nothing retired. */
  readonly runsFailed: Counter;

  constructor(registry: Registry) {
    this.tasks = new Counter({
      name: 'causeway_order_retention_tasks_total',
      help: 'Due tasks retention looked at, by outcome: deleted, expired (ended FAILED "expired"), failed (could not be retired: tried again at a later run), skipped (their order runs on this instance)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.deadLettersPurged = new Counter({
      name: 'causeway_order_retention_dead_letters_purged_total',
      help: 'Dead-lettered orders retention purged, dead-lettered more than PROGRESS_HISTORY_TTL_MS ago',
      registers: [registry],
    });
    this.runsFailed = new Counter({
      name: 'causeway_order_retention_runs_failed_total',
      help: 'Retention runs that failed as a whole (e.g. the retention index in Redis unreachable): tried again at the next interval',
      registers: [registry],
    });
    // Present at 0 from the start, so that increase() sees the first failure.
    for (const outcome of ['deleted', 'expired', 'failed', 'skipped'])
      this.tasks.inc({ outcome }, 0);
  }

  counted(run: ProgressRetentionRun): void {
    for (const outcome of ['deleted', 'expired', 'failed', 'skipped'] as const)
      if (run[outcome] > 0) this.tasks.inc({ outcome }, run[outcome]);
    if (run.deadLetters > 0) this.deadLettersPurged.inc(run.deadLetters);
  }
}
