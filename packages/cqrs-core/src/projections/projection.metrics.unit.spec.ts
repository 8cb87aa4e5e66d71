import { type Histogram, Registry } from 'prom-client';
import { projectionMetrics } from './projection.metrics';

describe('projectionMetrics', () => {
  it('keeps slow applies in finite buckets: 2 s, 8 s and 25 s apart, none only in +Inf', async () => {
    // An apply waits on its read store: a slow FerretDB, a store timing out (10 s by default).
    // An apply past the top bucket is only in +Inf, where no quantile can be read.
    const registry = new Registry();
    const metrics = projectionMetrics(registry);
    for (const seconds of [0.002, 2, 8, 25]) metrics.applied('balances', seconds);
    const histogram = registry.getSingleMetric('causeway_projection_apply_duration_seconds');
    const { values } = await (histogram as Histogram).get();
    const buckets = values
      .filter((value) => value.metricName?.endsWith('_bucket') && value.labels.le !== '+Inf')
      .map((value) => value.value);
    // Each apply first counted by a finite bucket of its own: 1, 2, 3, then 4.
    expect([...new Set(buckets)]).toEqual([0, 1, 2, 3, 4]);
  });
});
