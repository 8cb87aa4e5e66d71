import { PermanentError, DeferredError, RetriesExhaustedError } from '../router/handler.errors';
import { type HandlerInfo } from '../router/handler';
import { testDelivery, testEnvelope } from '../testing/envelope.fixture';
import { backoffDelay, retry, type RetryOptions } from './retry.middleware';

const info: HandlerInfo = { name: 'h', topics: ['t'], group: 'g' };

describe('retry middleware', () => {
  it('computes fixed, linear and exponential delays capped by maxDelayMs', () => {
    expect(
      [1, 2, 3, 4].map((n) => backoffDelay({ backoff: 'fixed', initialDelayMs: 100 }, n)),
    ).toEqual([100, 100, 100, 100]);
    expect(
      [1, 2, 3, 4].map((n) => backoffDelay({ backoff: 'linear', initialDelayMs: 100 }, n)),
    ).toEqual([100, 200, 300, 400]);
    expect(
      [1, 2, 3, 4].map((n) =>
        backoffDelay({ backoff: 'exponential', initialDelayMs: 100, maxDelayMs: 500 }, n),
      ),
    ).toEqual([100, 200, 400, 500]);
  });

  it('retries transient failures until one succeeds', async () => {
    let calls = 0;
    const handler = retry({ maxAttempts: 3, initialDelayMs: 1 })(async () => {
      if (++calls < 3) throw new Error('flaky');
      return 'ok';
    }, info);
    await expect(handler(testDelivery(testEnvelope('T', {})))).resolves.toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up after maxAttempts with RetriesExhaustedError carrying the last error', async () => {
    let calls = 0;
    const retried: number[] = [];
    const handler = retry({
      maxAttempts: 4,
      initialDelayMs: 1,
      onRetry: (e) => retried.push(e.attempt),
    })(async () => {
      calls++;
      throw new Error(`boom ${calls}`);
    }, info);
    const error = await handler(testDelivery(testEnvelope('T', {}))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as RetriesExhaustedError).attempts).toBe(4);
    expect(((error as RetriesExhaustedError).lastError as Error).message).toBe('boom 4');
    expect(retried).toEqual([1, 2, 3]);
  });

  it('leaves no unhandled rejection when an async onRetry hook rejects (it ended the process)', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      let calls = 0;
      const handler = retry({
        maxAttempts: 2,
        initialDelayMs: 1,
        onRetry: async () => {
          throw new Error('metrics down');
        },
      })(async () => {
        if (++calls < 2) throw new Error('flaky');
        return 'ok';
      }, info);
      await expect(handler(testDelivery(testEnvelope('T', {})))).resolves.toBe('ok');
      // Node reports an unhandled rejection after the microtasks of the turn it was made in.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('retries all the same when the onRetry hook throws (a metric or log sink down)', async () => {
    let calls = 0;
    let hooked = 0;
    const handler = retry({
      maxAttempts: 3,
      initialDelayMs: 1,
      onRetry: () => {
        hooked++;
        throw new Error('metrics down');
      },
    })(async () => {
      if (++calls < 3) throw new Error('flaky');
      return 'ok';
    }, info);
    // The third attempt succeeds; the hook's failure neither replaced the error nor ended the retries.
    await expect(handler(testDelivery(testEnvelope('T', {})))).resolves.toBe('ok');
    expect(calls).toBe(3);
    expect(hooked).toBe(2);
  });

  it('does not retry permanent errors, and passes deferred ones through untouched', async () => {
    let calls = 0;
    const permanent = retry({ maxAttempts: 5, initialDelayMs: 1 })(async () => {
      calls++;
      throw new PermanentError('invalid');
    }, info);
    await expect(permanent(testDelivery(testEnvelope('T', {})))).rejects.toBeInstanceOf(
      PermanentError,
    );
    expect(calls).toBe(1);
    const deferred = retry({ maxAttempts: 5, initialDelayMs: 1 })(async () => {
      throw new DeferredError('later');
    }, info);
    await expect(deferred(testDelivery(testEnvelope('T', {})))).rejects.toBeInstanceOf(
      DeferredError,
    );
  });

  it('refuses settings it cannot honour, naming them', () => {
    expect(() => retry({ maxAttempts: Number('') || Number.NaN })).toThrow(
      'retry: maxAttempts must be a positive integer (attempts including the first), got NaN',
    );
    expect(() => retry({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => retry({ jitter: 1.5 })).toThrow('retry: jitter must be from 0 to 1, got 1.5');
    // A string (from the environment) passed the range check; an empty one then counted as 0.
    expect(() => retry({ jitter: '0.5' as unknown as number })).toThrow(
      new RangeError('retry: jitter must be from 0 to 1, got "0.5"'),
    );
    expect(() => retry({ jitter: '' as unknown as number })).toThrow(
      new RangeError('retry: jitter must be from 0 to 1, got ""'),
    );
    expect(() => retry({ initialDelayMs: -1 })).toThrow('initialDelayMs must be a non-negative');
    expect(() => retry({ backoff: 'exponentail' as unknown as RetryOptions['backoff'] })).toThrow(
      `backoff must be 'fixed', 'linear' or 'exponential', got "exponentail"`,
    );
    expect(() => retry({ perType: { Pay: { maxDelayMs: Infinity } } })).toThrow(
      'retry perType["Pay"]: maxDelayMs must be a non-negative number of milliseconds, got Infinity',
    );
    expect(() => retry({ maxAttempts: 1, jitter: 0, backoff: 'fixed' })).not.toThrow();
  });

  it('applies per-type settings', async () => {
    const calls: Record<string, number> = { Payment: 0, Other: 0 };
    const handler = retry({
      maxAttempts: 2,
      initialDelayMs: 1,
      perType: { Payment: { maxAttempts: 5, initialDelayMs: 1 } },
    })(async (d) => {
      calls[d.envelope.type]!++;
      throw new Error('down');
    }, info);
    await handler(testDelivery(testEnvelope('Payment', {}))).catch(() => undefined);
    await handler(testDelivery(testEnvelope('Other', {}))).catch(() => undefined);
    expect(calls).toEqual({ Payment: 5, Other: 2 });
  });

  it('shortens each delay by a random part of up to jitter × the delay', async () => {
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.5);
    try {
      const delays: number[] = [];
      const handler = retry({
        maxAttempts: 3,
        initialDelayMs: 20,
        jitter: 0.4,
        onRetry: ({ delayMs }) => delays.push(delayMs),
      })(async () => {
        throw new Error('down');
      }, info);
      await handler(testDelivery(testEnvelope('T', {}))).catch(() => undefined);
      // 20 ms then 40 ms, each × (1 - 0.4 × 0.5)
      expect(delays).toEqual([16, 32]);
    } finally {
      random.mockRestore();
    }
  });

  it('waits between attempts with jittered exponential backoff', async () => {
    const times: number[] = [];
    const handler = retry({ maxAttempts: 3, initialDelayMs: 40, jitter: 0.5 })(async () => {
      times.push(Date.now());
      throw new Error('down');
    }, info);
    await handler(testDelivery(testEnvelope('T', {}))).catch(() => undefined);
    const gaps = [times[1]! - times[0]!, times[2]! - times[1]!];
    expect(gaps[0]).toBeGreaterThanOrEqual(18); // 40 ms with up to 50 % jitter
    expect(gaps[1]).toBeGreaterThanOrEqual(38); // 80 ms with up to 50 % jitter
  });
});
