import { HealthMonitor } from './health.monitor';

describe('HealthMonitor', () => {
  it('keeps a bounded, newest-first history per probe and derives up / degraded / down', async () => {
    let redisUp = true;
    let breakersClosed = true;
    const monitor = new HealthMonitor({
      historySize: 3,
      probes: [
        {
          name: 'redis',
          check: async () => {
            if (!redisUp) throw new Error('ECONNREFUSED');
          },
        },
        {
          name: 'breakers',
          critical: false,
          check: async () => {
            if (!breakersClosed) throw new Error('open: payments');
          },
        },
      ],
    });
    expect(monitor.snapshot().status).toBe('unknown');
    await monitor.check();
    expect(monitor.snapshot().status).toBe('up');
    breakersClosed = false;
    await monitor.check();
    expect(monitor.snapshot().status).toBe('degraded');
    redisUp = false;
    await monitor.check();
    await monitor.check();
    const snapshot = monitor.snapshot();
    expect(snapshot.status).toBe('down');
    expect(snapshot.probes.redis!.history.map((s) => s.healthy)).toEqual([false, false, true]);
    expect(snapshot.probes.redis!.latest.error).toBe('ECONNREFUSED');
    expect(snapshot.probes.breakers!.critical).toBe(false);
  });

  it('keeps the newest check as the latest when an older, slower one finishes after it', async () => {
    // The start-up check (a server still connecting, answered at its timeout) and the check
    // made once the bus probe is registered overlap: the older answer must not win.
    let calls = 0;
    let failSlow!: () => void;
    const monitor = new HealthMonitor({
      probes: [
        {
          name: 'mongodb',
          check: () => {
            calls++;
            if (calls > 1) return Promise.resolve();
            return new Promise<void>((_, reject) => {
              failSlow = () => reject(new Error('no answer within 2000 ms'));
            });
          },
        },
      ],
    });
    const older = monitor.check();
    await monitor.check();
    expect(monitor.snapshot().status).toBe('up');
    failSlow();
    await older;
    const snapshot = monitor.snapshot();
    expect(snapshot.status).toBe('up');
    expect(snapshot.probes.mongodb!.history.map((sample) => sample.healthy)).toEqual([true, false]);
  });

  it('keeps the histories of two probes of one name apart, the second as `<name>#2`', async () => {
    // Two Redis connections left with redisConnection's default name: one history mixed both,
    // and `latest` (the healthy one's) said `up` while the other, critical, failed.
    const monitor = new HealthMonitor({
      probes: [
        { name: 'redis', check: async () => Promise.reject(new Error('ECONNREFUSED')) },
        { name: 'redis', check: async () => undefined },
      ],
    });
    await monitor.check();
    await monitor.check();
    const snapshot = monitor.snapshot();
    expect(snapshot.status).toBe('down');
    expect(
      Object.fromEntries(
        Object.entries(snapshot.probes).map(([name, probe]) => [
          name,
          probe.history.map((sample) => sample.healthy),
        ]),
      ),
    ).toEqual({ redis: [false, false], 'redis#2': [true, true] });
  });

  it('checks periodically once started, and not after stop', async () => {
    let calls = 0;
    const monitor = new HealthMonitor({
      intervalMs: 20,
      probes: [{ name: 'p', check: async () => void calls++ }],
    });
    monitor.start();
    const deadline = Date.now() + 5_000;
    while (calls < 3 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
    monitor.stop();
    expect(calls).toBeGreaterThanOrEqual(3);
    const stoppedAt = calls;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(calls).toBe(stoppedAt);
  });

  it.each([
    ['intervalMs', 0],
    ['intervalMs', -5],
    ['intervalMs', Number.NaN],
    ['historySize', 0],
    ['historySize', 2.5],
    ['timeoutMs', 0],
    ['timeoutMs', 2 ** 31],
  ])(
    'refuses options.%s %p, naming it (an interval of 0 probed every server without pause)',
    (option, value) => {
      const probes = [{ name: 'redis', check: async () => undefined }];
      expect(() => new HealthMonitor({ probes, [option]: value })).toThrow(
        new RegExp(`^HealthMonitor: options\\.${option} must be a positive integer`),
      );
    },
  );
});
