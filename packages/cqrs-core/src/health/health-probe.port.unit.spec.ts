import { runProbes, type HealthProbe } from './health-probe.port';

describe('runProbes', () => {
  it('reports each probe healthy or not with its error, without rejecting', async () => {
    const probes: HealthProbe[] = [
      { name: 'ok', check: async () => undefined },
      { name: 'broken', check: async () => Promise.reject(new Error('ECONNREFUSED')) },
    ];
    const results = await runProbes(probes);
    expect(results.map(({ name, healthy, error }) => ({ name, healthy, error }))).toEqual([
      { name: 'ok', healthy: true, error: undefined },
      { name: 'broken', healthy: false, error: 'ECONNREFUSED' },
    ]);
  });

  it('fails a probe that does not answer in time', async () => {
    const hanging: HealthProbe = { name: 'hanging', check: () => new Promise(() => undefined) };
    const [result] = await runProbes([hanging], 50);
    expect(result).toMatchObject({
      name: 'hanging',
      healthy: false,
      error: 'no answer within 50 ms',
    });
    expect(result!.latencyMs).toBeGreaterThanOrEqual(45);
  });
});
