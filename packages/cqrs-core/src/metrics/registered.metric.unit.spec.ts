import { Registry } from 'prom-client';
import { registeredCounter, registeredGauge } from './registered.metric';

describe('registeredCounter / registeredGauge', () => {
  it('gives everyone asking for a name one metric, so their counts add up', async () => {
    const registry = new Registry();
    const config = { name: 'jobs_total', help: 'Jobs', labelNames: ['queue'] as const };
    registeredCounter(registry, config).inc({ queue: 'a' });
    registeredCounter(registry, config).inc({ queue: 'a' }, 2);
    expect(await registry.getSingleMetricAsString('jobs_total')).toContain(
      'jobs_total{queue="a"} 3',
    );
    registeredGauge(registry, { name: 'depth', help: 'Depth' }).set(4);
    expect(registeredGauge(registry, { name: 'depth', help: 'Depth' })).toBe(
      registry.getSingleMetric('depth'),
    );
  });

  it('refuses a name registered as another kind, naming it', () => {
    const registry = new Registry();
    registeredGauge(registry, { name: 'open', help: 'Open things' });
    expect(() => registeredCounter(registry, { name: 'open', help: 'Open things' })).toThrow(
      'metric open is registered already, as another kind than Counter',
    );
  });
});
