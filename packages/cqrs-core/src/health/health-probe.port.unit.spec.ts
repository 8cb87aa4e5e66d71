import { HEALTH_ERROR_MAX, probeNames, runProbes, type HealthProbe } from './health-probe.port';
import { HealthMonitor } from './health.monitor';

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

  it('never shows a credential its error quotes: /health and /health/ready need no token', async () => {
    // A team's own probe (an HTTP dependency), a handler's or a projection's last error in the
    // bus or projections probe: the message may quote a URL with its user info, or a password.
    const probes: HealthProbe[] = [
      {
        name: 'payments',
        check: async () =>
          Promise.reject(
            new Error('GET https://svc:hunter2@payments.internal/v1/ping answered 503'),
          ),
      },
      {
        name: 'ledger',
        check: async () =>
          Promise.reject(new Error('cannot log in to ledger: password=hunter2 refused')),
      },
    ];
    const monitor = new HealthMonitor({ probes });
    const results = await monitor.check();
    const shown = JSON.stringify({ results, snapshot: monitor.snapshot() });
    expect(shown).not.toContain('hunter2');
    // What went wrong, and where, still shows.
    expect(results.map((result) => result.error)).toEqual([
      'GET https://[Redacted]@payments.internal/v1/ping answered 503',
      'cannot log in to ledger: password=[Redacted] refused',
    ]);
  });

  it('shows at most HEALTH_ERROR_MAX characters of an error, its credentials removed first', async () => {
    // A dependency's error may be a whole document (an HTML error page, a stack, a driver's
    // dump of its topology): /health repeats it in every sample of the history.
    const huge = `upstream answered 502: password=hunter2 ${'<div>bad gateway</div>'.repeat(5_000)}`;
    const monitor = new HealthMonitor({
      probes: [{ name: 'payments', check: async () => Promise.reject(new Error(huge)) }],
    });
    const [result] = await monitor.check();
    expect(result!.error!.length).toBeLessThanOrEqual(HEALTH_ERROR_MAX + 1);
    expect(result!.error).toMatch(/^upstream answered 502: password=\[Redacted\] <div>bad gateway/);
    expect(result!.error!.endsWith('…')).toBe(true);
    expect(JSON.stringify(monitor.snapshot()).length).toBeLessThan(2_000);
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

describe('probeNames', () => {
  const named = (...names: string[]): HealthProbe[] =>
    names.map((name) => ({ name, check: async () => undefined }));

  it('keeps every name that is unique, and numbers the later probes of a name from #2', () => {
    expect(probeNames(named('redis', 'kafka', 'redis', 'redis'))).toEqual([
      'redis',
      'kafka',
      'redis#2',
      'redis#3',
    ]);
  });

  it('never gives a probe a name another probe has as its own', () => {
    expect(probeNames(named('redis', 'redis', 'redis#2'))).toEqual(['redis', 'redis#3', 'redis#2']);
  });
});
