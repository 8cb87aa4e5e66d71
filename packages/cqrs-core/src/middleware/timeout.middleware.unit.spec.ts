import { setTimeout as sleep } from 'node:timers/promises';
import { type HandlerInfo } from '../router/handler';
import { testDelivery, testEnvelope } from '../testing/envelope.fixture';
import { HandlerTimeoutError, timeout } from './timeout.middleware';
import { recoverer, NonErrorThrownError } from './recoverer.middleware';

const info: HandlerInfo = { name: 'slow', topics: ['t'], group: 'g' };

describe('timeout middleware', () => {
  it('fails a handler that runs too long, and lets a fast one finish', async () => {
    const slow = timeout(30)(() => new Promise((resolve) => setTimeout(resolve, 200)), info);
    await expect(slow(testDelivery(testEnvelope('T', {})))).rejects.toEqual(
      new HandlerTimeoutError('slow', 30),
    );
    const fast = timeout(100)(async () => 'done', info);
    await expect(fast(testDelivery(testEnvelope('T', {})))).resolves.toBe('done');
  });
});

describe('timeout middleware and the delivery signal', () => {
  it('aborts the signal the handler got when its time is up, with the timeout as the reason', async () => {
    let signal: AbortSignal | undefined;
    let stoppedEarly = false;
    const slow = timeout(30)(async (delivery) => {
      signal = delivery.signal;
      // A handler that passes the signal on: its wait ends when the attempt times out.
      await sleep(5_000, undefined, { signal: delivery.signal }).catch(() => {
        stoppedEarly = true;
      });
    }, info);
    const started = Date.now();
    await expect(slow(testDelivery(testEnvelope('T', {})))).rejects.toBeInstanceOf(
      HandlerTimeoutError,
    );
    await sleep(10);
    expect(stoppedEarly).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toEqual(new HandlerTimeoutError('slow', 30));
  });

  it('leaves the signal of a handler that finished in time alone', async () => {
    let signal: AbortSignal | undefined;
    const fast = timeout(30)(async (delivery) => {
      signal = delivery.signal;
      return 'done';
    }, info);
    await expect(fast(testDelivery(testEnvelope('T', {})))).resolves.toBe('done');
    await sleep(60);
    expect(signal?.aborted).toBe(false);
  });

  it('aborts with an outer timeout that ends first (nested timeouts)', async () => {
    let signal: AbortSignal | undefined;
    const inner = timeout(5_000)(
      async (delivery) => {
        signal = delivery.signal;
        await sleep(5_000, undefined, { signal: delivery.signal }).catch(() => undefined);
      },
      { ...info, name: 'inner' },
    );
    const outer = timeout(30)(inner, info);
    await expect(outer(testDelivery(testEnvelope('T', {})))).rejects.toEqual(
      new HandlerTimeoutError('slow', 30),
    );
    expect(signal?.reason).toEqual(new HandlerTimeoutError('slow', 30));
  });
});

describe('recoverer middleware', () => {
  it('turns synchronous throws and non-errors into rejected Errors', async () => {
    const sync = recoverer()(() => {
      throw new Error('sync');
    }, info);
    await expect(sync(testDelivery(testEnvelope('T', {})))).rejects.toThrow('sync');
    const nonError = recoverer()(async () => Promise.reject('just a string'), info);
    await expect(nonError(testDelivery(testEnvelope('T', {})))).rejects.toBeInstanceOf(
      NonErrorThrownError,
    );
  });
});
