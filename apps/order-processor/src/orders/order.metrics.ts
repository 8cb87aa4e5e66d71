import { type ProgressEvent } from '@causeway/contracts';
import { Counter, Gauge, type Registry } from 'prom-client';

/** This instance's order figures: Prometheus counters, also what GET /monitor reports. */
export class OrderMetrics {
  /** Deliveries of an order handled to the end (redeliveries included). */
  readonly consumed: Counter;
  /** Progress events stored, by step name and event type. */
  readonly steps: Counter<'step' | 'type'>;
  /** Deliveries that met a task retention had deleted: the order was not run again. */
  readonly expired: Counter;
  /** Orders this instance is running now (countRunning says how many). */
  readonly running: Gauge;
  private runningNow: () => number = () => 0;

  constructor(registry: Registry) {
    this.consumed = new Counter({
      name: 'causeway_orders_consumed_total',
      help: 'Order deliveries handled to the end by this instance (redeliveries included)',
      registers: [registry],
    });
    this.steps = new Counter({
      name: 'causeway_order_steps_total',
      help: 'Progress events stored by this instance, by step and event type (STARTED, PROGRESS, COMPLETED, FAILED)',
      labelNames: ['step', 'type'],
      registers: [registry],
    });
    this.expired = new Counter({
      name: 'causeway_orders_expired_total',
      help: 'Order deliveries (replays, redeliveries) that met a task whose history retention had deleted (PROGRESS_HISTORY_TTL_MS): not run again',
      registers: [registry],
    });
    this.running = new Gauge({
      name: 'causeway_orders_running',
      help: 'Orders this instance is running now (their deliveries in hand); summed, every instance’s',
      registers: [registry],
      // Read at each scrape: the processor knows, no count to keep in step with it.
      collect: () => this.running.set(this.runningNow()),
    });
  }

  /** Where `causeway_orders_running` is read from at each scrape (OrderProcessor.runningOrders). */
  countRunning(running: () => number): void {
    this.runningNow = running;
  }

  stored(event: ProgressEvent): void {
    this.steps.inc({ step: event.stepName, type: event.eventType });
  }

  /** Events stored per type since this instance started. */
  async byType(): Promise<Record<ProgressEvent['eventType'], number>> {
    const counts = { STARTED: 0, PROGRESS: 0, COMPLETED: 0, FAILED: 0 };
    for (const { labels, value } of (await this.steps.get()).values)
      counts[labels.type as keyof typeof counts] += value;
    return counts;
  }

  async consumedCount(): Promise<number> {
    return (await this.consumed.get()).values[0]?.value ?? 0;
  }
}
