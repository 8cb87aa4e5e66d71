import { testNamespace } from '@causeway/testkit';
import { runProbes } from '../src/health';
import { redisConnection } from '../src/redis';

// The probe timeout against a busy event loop, as the command timeout (session 46): the timer of
// runProbes fired in the timers phase, before the poll phase that reads the socket, so a probe
// whose reply had arrived in time, waiting unread, was reported "no answer" — /health/ready
// answered 503 for a Redis that was fine, while the loop was busy with a flood of requests.
describe('runProbes with a busy event loop', () => {
  const ns = testNamespace('lateprobe');
  const timeoutMs = 100;

  /** Keeps the event loop busy for `ms`, as a flood of requests does. */
  function busyFor(ms: number): void {
    const until = performance.now() + ms;
    while (performance.now() < until);
  }
  /** Past the end of this tick, where the connection writes the commands it issued. */
  const written = () => new Promise((resolve) => setImmediate(resolve));

  it('reports healthy a probe whose reply arrived while the loop was busy past the timeout', async () => {
    const connection = redisConnection({ url: ns.redisUrl });
    try {
      await connection.open();
      const results = runProbes([connection], timeoutMs);
      await written();
      // Redis answers the PING within a few ms; the reply waits in the socket past the timeout.
      busyFor(10 * timeoutMs);
      const [result] = await results;
      expect(result).toMatchObject({ name: 'redis', healthy: true });
      expect(result!.error).toBeUndefined();
    } finally {
      await connection.close();
    }
  });

  it('still reports a probe that does not answer, also when the loop was busy past the timeout', async () => {
    const silent = { name: 'silent', check: () => new Promise<void>(() => undefined) };
    const results = runProbes([silent], timeoutMs);
    busyFor(10 * timeoutMs);
    const [result] = await results;
    expect(result).toMatchObject({
      name: 'silent',
      healthy: false,
      error: `no answer within ${timeoutMs} ms`,
    });
  });
});
