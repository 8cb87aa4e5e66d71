import { type ProgressRetentionOptions, type ProgressRetentionRun } from './progress-retention.job';
import { type RetentionMetrics } from './retention.metrics';

export interface RetentionReportOptions {
  metrics: RetentionMetrics;
  /** Where the lines go (the app: Nest's Logger). */
  logger: { log(message: string): void; warn(message: string): void };
}

/** Distinct errors a warn line names (the others are counted), and task ids named per error. */
const ERRORS_SHOWN = 3;
const TASKS_SHOWN = 5;

/** The tasks a run could not retire for one error: how many, and the first few. */
interface Failure {
  count: number;
  taskIds: string[];
}

/**
 * ProgressRetentionJob's onRun, onError and onTaskError for the app: each run's figures are
 * counted (RetentionMetrics) and logged, and the tasks a run could not retire are reported in
 * ONE warn line at the run's end, grouped by error, with their count and the first task ids.
 * One line per task flooded the log when the event store was down: every due task failed alike,
 * at every run (a review, session 43).
 */
export function retentionReport(
  options: RetentionReportOptions,
): Required<Pick<ProgressRetentionOptions, 'onRun' | 'onError' | 'onTaskError'>> {
  const { logger, metrics } = options;
  // Runs never overlap within an instance (ProgressRetentionJob): this is the current run's.
  let failures = new Map<string, Failure>();
  const taken = () => {
    const run = failures;
    failures = new Map();
    return run;
  };
  return {
    onTaskError: (taskId, error) => {
      const message = messageOf(error);
      const failure = failures.get(message) ?? { count: 0, taskIds: [] };
      failure.count++;
      if (failure.taskIds.length < TASKS_SHOWN) failure.taskIds.push(taskId);
      failures.set(message, failure);
    },
    onRun: (run) => {
      metrics.counted(run);
      const failed = taken();
      if (run.failed > 0)
        logger.warn(
          `retention could not retire ${run.failed} task(s) this run; each is tried again at a later run: ${failuresText(failed)}`,
        );
      logFigures(logger, run);
    },
    onError: (error) => {
      metrics.runsFailed.inc();
      const failed = taken();
      const before =
        failed.size > 0
          ? `; before that it could not retire ${total(failed)} task(s): ${failuresText(failed)}`
          : '';
      logger.warn(`retention run failed: ${messageOf(error)}${before}`);
    },
  };
}

function logFigures(logger: RetentionReportOptions['logger'], run: ProgressRetentionRun): void {
  if (run.skipped > 0)
    logger.log(`retention left ${run.skipped} due task(s) whose order runs here for a later run`);
  if (run.expired > 0)
    logger.log(`retention ended ${run.expired} unfinished task(s) FAILED "expired"`);
  if (run.deleted > 0) logger.log(`retention deleted ${run.deleted} expired task stream(s)`);
  if (run.deadLetters > 0)
    logger.log(`retention purged ${run.deadLetters} dead-lettered order(s) older than the TTL`);
}

/** `<error> (<n> task(s): t-1, t-2, …)`, the most frequent errors first. */
function failuresText(failures: Map<string, Failure>): string {
  const sorted = [...failures].sort(([, a], [, b]) => b.count - a.count);
  const shown = sorted.slice(0, ERRORS_SHOWN).map(([message, { count, taskIds }]) => {
    const more = count > taskIds.length ? ', …' : '';
    return `${message} (${count} task(s): ${taskIds.join(', ')}${more})`;
  });
  const rest = sorted.slice(ERRORS_SHOWN);
  if (rest.length > 0)
    shown.push(`${rest.length} other error(s) (${total(new Map(rest))} task(s))`);
  return shown.join('; ');
}

function total(failures: Map<string, Failure>): number {
  let count = 0;
  for (const { count: n } of failures.values()) count += n;
  return count;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
