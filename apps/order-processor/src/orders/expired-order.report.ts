import { type OrderMetrics } from './order.metrics';

export interface ExpiredOrderReportOptions {
  metrics: OrderMetrics;
  /** Where the warn line goes (the app: Nest's Logger). */
  logger: { warn(message: string): void };
  /** PROGRESS_HISTORY_TTL_MS, named in the line. */
  historyTtlMs: number;
}

/**
 * OrderProcessorOptions.onExpired for the app: a delivery that met a task whose history
 * retention deleted is counted (causeway_orders_expired_total) and logged with its taskId and
 * why, so an operator whose replay came too late sees it (runbook "A user's order does not
 * progress", step 3) instead of a dead letter that vanished without a trace.
 */
export function reportExpiredOrder(options: ExpiredOrderReportOptions): (taskId: string) => void {
  return (taskId) => {
    options.metrics.expired.inc();
    options.logger.warn(
      `order ${taskId} not run: its history was deleted by retention, ` +
        `PROGRESS_HISTORY_TTL_MS (${options.historyTtlMs} ms) after its last step ` +
        `(it had ended COMPLETED or FAILED; an unfinished one is ended FAILED "expired" first)`,
    );
  };
}
