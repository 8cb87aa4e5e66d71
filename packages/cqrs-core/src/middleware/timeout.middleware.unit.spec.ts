import { setTimeout as sleep } from 'node:timers/promises';
import { type HandlerInfo } from '../router/handler';
import { testDelivery, testEnvelope } from '../testing/envelope.fixture';
import { HandlerTimeoutError, timeout } from './timeout.middleware';
import { recoverer, NonErrorThrownError } from './recoverer.middleware';

const info: HandlerInfo = { name: 'slow', topics: ['t'], group: 'g' };

describe('timeout middleware', () => {
  it('fails a handler that runs too long, and lets a fast one finish', async () => {
    // A handler that ignores the signal and never ends (one that ended after 200 ms raced the
    // 30 ms timeout and its grace on a loaded machine: both fired late, after it had ended).
    const slow = timeout(30)(() => new Promise(() => undefined), info);
    await expect(slow(testDelivery(testEnvelope('T', {})))).rejects.toEqual(
      new HandlerTimeoutError('slow', 30, true),
    );
    const fast = timeout(100)(async () => 'done', info);
    await expect(fast(testDelivery(testEnvelope('T', {})))).resolves.toBe('done');
  });

  it('refuses a timeout longer than the longest timer, which would fire after 1 ms', async () => {
    expect(() => timeout(3_000_000_000)).toThrow(
      'timeout: timeoutMs must be a positive number of milliseconds up to 2147483647, got 3000000000',
    );
    expect(() => timeout(30, { graceMs: 3_000_000_000 })).toThrow(/graceMs/);
    // Chosen per delivery: that delivery fails, naming the handler, before its handler runs.
    let ran = false;
    const chosen = timeout(() => 3_000_000_000)(async () => {
      ran = true;
    }, info);
    await expect(chosen(testDelivery(testEnvelope('T', {})))).rejects.toThrow(
      'timeout of slow must be a positive number of milliseconds up to 2147483647',
    );
    expect(ran).toBe(false);
    // The longest one works: a 20 ms handler finishes.
    const longest = timeout(2_147_483_647)(() => sleep(20).then(() => 'done'), info);
    await expect(longest(testDelivery(testEnvelope('T', {})))).resolves.toBe('done');
  });
});

describe('timeout middleware and the handler it gave up on', () => {
  it('fails the attempt only once a handler that ignores the signal has ended, within the grace', async () => {
    const log: string[] = [];
    const slow = timeout(30)(async () => {
      await sleep(50); // ignores the signal, ends within the grace (30 ms more)
      log.push('handler ended');
    }, info);
    const attempt = slow(testDelivery(testEnvelope('T', {}))).catch((error: unknown) => {
      log.push('attempt failed');
      throw error;
    });
    await expect(attempt).rejects.toEqual(new HandlerTimeoutError('slow', 30));
    // A retry (or the next message of the key) starts after the failure: never beside the run.
    expect(log).toEqual(['handler ended', 'attempt failed']);
  });

  it('gives up on a handler that ignores the signal past the grace, and says so', async () => {
    let ended = false;
    const started = Date.now();
    const cleanup = new AbortController(); // the test's own: the handler ignores the delivery's
    const stuck = timeout(30, { graceMs: 40 })(async () => {
      await sleep(3_000, undefined, { signal: cleanup.signal }).catch(() => undefined);
      ended = true;
    }, info);
    const error = (await stuck(testDelivery(testEnvelope('T', {}))).catch(
      (e: unknown) => e,
    )) as HandlerTimeoutError;
    expect(error).toBeInstanceOf(HandlerTimeoutError);
    expect(error.abandoned).toBe(true);
    expect(error.message).toMatch(/may still be running/);
    expect(ended).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(65);
    expect(Date.now() - started).toBeLessThan(2_000); // not the handler's 3 s
    cleanup.abort();
  });

  it('waits at most 5 s by default for a handler that ignores the signal', async () => {
    jest.useFakeTimers();
    try {
      const stuck = timeout(60_000)(() => new Promise(() => undefined), info);
      let outcome: unknown;
      void stuck(testDelivery(testEnvelope('T', {}))).catch((e: unknown) => (outcome = e));
      await jest.advanceTimersByTimeAsync(64_999);
      expect(outcome).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);
      expect(outcome).toEqual(new HandlerTimeoutError('slow', 60_000, true));
      expect((outcome as HandlerTimeoutError).abandoned).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });

  it('gives up at once with graceMs 0, and refuses a negative grace', async () => {
    const cleanup = new AbortController(); // the test's own: the handler ignores the delivery's
    const stuck = timeout(30, { graceMs: 0 })(
      () => sleep(3_000, undefined, { signal: cleanup.signal }).catch(() => undefined),
      info,
    );
    const started = Date.now();
    await expect(stuck(testDelivery(testEnvelope('T', {})))).rejects.toEqual(
      new HandlerTimeoutError('slow', 30, true),
    );
    expect(Date.now() - started).toBeLessThan(2_000); // not the handler's 3 s
    expect(() => timeout(30, { graceMs: -1 })).toThrow(/graceMs/);
    cleanup.abort();
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
