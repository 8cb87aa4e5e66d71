import { type HandlerInfo } from '../router/handler';
import { testDelivery, testEnvelope } from '../testing/envelope.fixture';
import { throttle } from './throttle.middleware';

const info: HandlerInfo = { name: 'mailer', topics: ['t'], group: 'g' };

describe('throttle middleware', () => {
  it('spaces the runs of a handler evenly: count per perMs', async () => {
    const starts: number[] = [];
    const handler = throttle({ count: 10, perMs: 200 })(async () => {
      starts.push(Date.now());
    }, info);
    const begun = Date.now();
    await Promise.all(
      Array.from({ length: 6 }, () => handler(testDelivery(testEnvelope('T', {})))),
    );
    // One run every 20 ms: the sixth starts 100 ms after the first.
    expect(starts).toHaveLength(6);
    expect(starts[5]! - begun).toBeGreaterThanOrEqual(95);
    for (let i = 1; i < starts.length; i++)
      expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(15);
  });

  it('lets a run start at once when the handler has been idle longer than the spacing', async () => {
    const handler = throttle({ count: 1, perMs: 300 })(async () => 'done', info);
    await handler(testDelivery(testEnvelope('T', {})));
    await new Promise((resolve) => setTimeout(resolve, 350));
    const begun = Date.now();
    await expect(handler(testDelivery(testEnvelope('T', {})))).resolves.toBe('done');
    // Well under the 300 ms a throttled run would wait, whatever the machine's load.
    expect(Date.now() - begun).toBeLessThan(150);
  });

  it('keeps the spacing between actual starts after the event loop stalled', async () => {
    const starts: number[] = [];
    const handler = throttle({ count: 1, perMs: 30 })(async () => {
      starts.push(Date.now());
    }, info);
    const runs = Array.from({ length: 4 }, () => handler(testDelivery(testEnvelope('T', {}))));
    // Block the event loop past several turns: the waiting runs must not start together after.
    const until = Date.now() + 120;
    while (Date.now() < until);
    await Promise.all(runs);
    for (let i = 1; i < starts.length; i++)
      expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(29);
  });

  it('keeps the spacing from when a run observably started, even if its thread paused first', async () => {
    // The pause CI hit at random (a GC, the OS running another process) between the throttle
    // taking the time and the handler reading it, made deterministic: the first run is held up
    // 15 ms before it reads the clock. The next run must still start 30 ms after that reading.
    const starts: number[] = [];
    const handler = throttle({ count: 1, perMs: 30 })(async () => {
      if (starts.length === 0) for (const until = Date.now() + 15; Date.now() < until;);
      starts.push(Date.now());
    }, info);
    await Promise.all(
      Array.from({ length: 2 }, () => handler(testDelivery(testEnvelope('T', {})))),
    );
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(30);
  });

  it('stops waiting, without running the handler, when the delivery is aborted', async () => {
    let runs = 0;
    const handler = throttle({ count: 1, perMs: 10_000 })(async () => {
      runs++;
    }, info);
    await handler(testDelivery(testEnvelope('T', {})));
    const controller = new AbortController();
    const waiting = handler({ ...testDelivery(testEnvelope('T', {})), signal: controller.signal });
    controller.abort(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
    expect(runs).toBe(1);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => throttle({ count: 0 })).toThrow(/count must be a positive number/);
    expect(() => throttle({ count: 5, perMs: -1 })).toThrow(/perMs must be a positive number/);
  });
});
