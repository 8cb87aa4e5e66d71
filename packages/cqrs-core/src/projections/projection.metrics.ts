import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type ProjectionStatus } from './projection.runner';

/** What a ProjectionRunner reports to Prometheus. */
export interface ProjectionMetrics {
  applied(projection: string, seconds: number): void;
  failed(projection: string): void;
  skipped(projection: string): void;
  /** Adds a source of statuses, read at each scrape; returns its removal. */
  watch(statuses: () => ProjectionStatus[]): () => void;
}

const byRegistry = new WeakMap<Registry, ProjectionMetrics>();

/**
 * One set of projection metrics per registry (several runners may share it): events applied
 * (with apply latency), failures and skipped events as counters; position, caught-up and
 * seconds behind the log as gauges read from the runners' statuses at each scrape.
 */
export function projectionMetrics(registry?: Registry): ProjectionMetrics {
  if (!registry)
    return {
      applied: () => undefined,
      failed: () => undefined,
      skipped: () => undefined,
      watch: () => () => undefined,
    };
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const sources = new Set<() => ProjectionStatus[]>();
  const statuses = () => [...sources].flatMap((source) => source());
  const registers = [registry];
  const duration = new Histogram({
    name: 'causeway_projection_apply_duration_seconds',
    help: 'Time a projection took to apply one event (successful applies)',
    labelNames: ['projection'],
    // Past a second too: an apply waits on its read store (a slow FerretDB, a store's 10 s
    // silence timeout), and one past the top bucket is only in +Inf, where no quantile can be
    // read (as the handlers' causeway_handler_duration_seconds, session 35).
    buckets: [
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60,
    ],
    registers,
  });
  const failures = new Counter({
    name: 'causeway_projection_failures_total',
    help: 'Failures of a projection: of apply, of reading the log, of its checkpoint',
    labelNames: ['projection'],
    registers,
  });
  const skips = new Counter({
    name: 'causeway_projection_skipped_total',
    help: 'Events a projection gave up on (maxAttempts reached, or skip() by an operator)',
    labelNames: ['projection'],
    registers,
  });
  const gauge = (name: string, help: string, value: (status: ProjectionStatus) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['projection'],
      registers,
      collect() {
        this.reset();
        for (const status of statuses()) this.set({ projection: status.name }, value(status));
      },
    });
  gauge('causeway_projection_position', 'Global position the projection has applied up to', (s) =>
    Number(s.position),
  );
  gauge(
    'causeway_projection_caught_up',
    '1 once the projection has reached the end of the log (0 while catching up or rebuilding)',
    (s) => (s.caughtUp ? 1 : 0),
  );
  gauge(
    'causeway_projection_behind_seconds',
    'How old the last applied event is while the projection is behind the log (or the event it is stuck on); 0 at its end',
    (s) => s.behindMs / 1000,
  );
  const metrics: ProjectionMetrics = {
    applied: (projection, seconds) => duration.observe({ projection }, seconds),
    failed: (projection) => failures.inc({ projection }),
    skipped: (projection) => skips.inc({ projection }),
    watch(source) {
      sources.add(source);
      return () => sources.delete(source);
    },
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
