import { ConcurrencyConflictError } from '../event-store/event-store.errors';
import { retryOnConflict } from './retry-on-conflict';

const conflict = () => new ConcurrencyConflictError('Trainer-1', 3, 4);

describe('retryOnConflict', () => {
  it('returns at once when the first attempt succeeds', async () => {
    const attempts: number[] = [];
    await expect(retryOnConflict(async (attempt) => (attempts.push(attempt), 'ok'))).resolves.toBe(
      'ok',
    );
    expect(attempts).toEqual([1]);
  });

  it('retries conflicts with growing, jittered, bounded delays until an attempt succeeds', async () => {
    const retries: { attempt: number; delayMs: number }[] = [];
    const result = await retryOnConflict(
      async (attempt) => {
        if (attempt < 4) throw conflict();
        return attempt;
      },
      {
        maxAttempts: 5,
        initialDelayMs: 2,
        maxDelayMs: 20,
        onRetry: ({ attempt, delayMs }) => retries.push({ attempt, delayMs }),
      },
    );
    expect(result).toBe(4);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2, 3]);
    for (const { delayMs } of retries) {
      expect(delayMs).toBeGreaterThanOrEqual(0);
      expect(delayMs).toBeLessThanOrEqual(20);
    }
  });

  it('backs off for about the initial delay first, then longer, and jitters each delay', async () => {
    const delaysWith = async (random: number) => {
      const spy = jest.spyOn(Math, 'random').mockReturnValue(random);
      try {
        const delays: number[] = [];
        await retryOnConflict(
          async (attempt) => {
            if (attempt < 4) throw conflict();
          },
          { onRetry: ({ delayMs }) => delays.push(delayMs) },
        );
        return delays;
      } finally {
        spy.mockRestore();
      }
    };
    // Decorrelated jitter at its median draw: about 0.9, 1.1 and 2 × the initial 10 ms.
    const middle = await delaysWith(0.5);
    expect(middle).toHaveLength(3);
    expect(middle[0]).toBeGreaterThan(5);
    expect(middle[0]).toBeLessThanOrEqual(10);
    expect(middle[1]).toBeGreaterThan(middle[0]!);
    expect(middle[2]).toBeGreaterThan(middle[1]!);
    expect(middle[2]).toBeGreaterThan(15);
    const high = await delaysWith(0.9);
    expect(high[0]).not.toBeCloseTo(middle[0]!, 3);
  });

  it('throws the last conflict, saying it gave up after the attempts, when they are exhausted', async () => {
    let calls = 0;
    let last: ConcurrencyConflictError | undefined;
    const error = await retryOnConflict(
      async () => {
        calls++;
        throw (last = new ConcurrencyConflictError('Trainer-1', calls, calls + 1));
      },
      { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    expect(error).toMatchObject({ streamId: 'Trainer-1', expected: 3, actual: 4, attempts: 3 });
    expect((error as Error).message).toBe(
      'Concurrency conflict on stream Trainer-1: expected version 3, actual 4; ' +
        'retryOnConflict gave up after 3 attempts',
    );
    expect((error as Error).cause).toBe(last);
  });

  it('retries all the same when the onRetry hook throws (a metric or log sink down)', async () => {
    let hooked = 0;
    const result = await retryOnConflict(
      async (attempt) => {
        if (attempt < 3) throw conflict();
        return attempt;
      },
      {
        initialDelayMs: 1,
        onRetry: () => {
          hooked++;
          throw new Error('metrics down');
        },
      },
    );
    // The command succeeded on its third attempt; the hook's failure did not replace the conflict.
    expect(result).toBe(3);
    expect(hooked).toBe(2);
  });

  // A review (session 43): DocumentStore came to refuse a NaN delay (a `Number(env)` of
  // nothing), but retryOnConflict itself, which command handlers, repositories and
  // trainer-service call, took it and retried every conflict back to back.
  it.each([
    ['initialDelayMs', Number(undefined), 'NaN'],
    ['initialDelayMs', -1, '-1'],
    ['maxDelayMs', Number.POSITIVE_INFINITY, 'Infinity'],
    ['maxDelayMs', '50', '"50"'],
  ] as const)('refuses %s %p before the first attempt, naming it', async (name, value, shown) => {
    let calls = 0;
    await expect(
      retryOnConflict(
        async () => {
          calls++;
          throw conflict();
        },
        { maxAttempts: 3, [name]: value as number },
      ),
    ).rejects.toThrow(
      new RangeError(`${name} must be a non-negative number of milliseconds, got ${shown}`),
    );
    expect(calls).toBe(0);
  });

  it('does not retry other errors', async () => {
    let calls = 0;
    await expect(
      retryOnConflict(async () => {
        calls++;
        throw new RangeError('domain says no');
      }),
    ).rejects.toThrow(RangeError);
    expect(calls).toBe(1);
  });

  it('with maxAttempts 1 does not retry, and refuses nonsense attempt counts', async () => {
    let calls = 0;
    await expect(
      retryOnConflict(
        async () => {
          calls++;
          throw conflict();
        },
        { maxAttempts: 1 },
      ),
    ).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect(calls).toBe(1);
    await expect(retryOnConflict(async () => 1, { maxAttempts: 0 })).rejects.toThrow(RangeError);
  });

  it('names a maxAttempts given as a string as a string, not as the number it reads like', async () => {
    // `Number(env)` forgotten: "got 3" read as a valid count; quoted, as the other option checks do.
    await expect(
      retryOnConflict(async () => 1, { maxAttempts: '3' as unknown as number }),
    ).rejects.toThrow(new RangeError('maxAttempts must be an integer >= 1, got "3"'));
    await expect(retryOnConflict(async () => 1, { maxAttempts: 1.5 })).rejects.toThrow(
      'maxAttempts must be an integer >= 1, got 1.5',
    );
  });

  it('stops retrying when aborted', async () => {
    const controller = new AbortController();
    let calls = 0;
    const outcome = retryOnConflict(
      async () => {
        calls++;
        controller.abort();
        throw conflict();
      },
      { maxAttempts: 5, initialDelayMs: 1, signal: controller.signal },
    );
    await expect(outcome).rejects.toThrow();
    expect(calls).toBe(1);
  });
  it('fails at once on an overlap: a batch whose own messageIds are stored cannot be re-decided', async () => {
    const overlap = new ConcurrencyConflictError('Trainer-1', 'any', 4, { overlap: true });
    const attempts: number[] = [];
    const retries: number[] = [];
    const failure = await retryOnConflict(
      async (attempt) => {
        attempts.push(attempt);
        throw overlap;
      },
      { maxAttempts: 5, initialDelayMs: 0, onRetry: ({ attempt }) => retries.push(attempt) },
    ).catch((error: unknown) => error);
    expect(failure).toBe(overlap);
    expect(attempts).toEqual([1]);
    expect(retries).toEqual([]);

    // Also after version conflicts, on the last attempt: as it is, not as "gave up after 2".
    const last = await retryOnConflict(
      async (attempt) => {
        throw attempt === 1 ? conflict() : overlap;
      },
      { maxAttempts: 2, initialDelayMs: 0 },
    ).catch((error: unknown) => error);
    expect(last).toBe(overlap);
  });
});
