import { describeIdempotencyStore } from './idempotency-store.conformance';
import { InMemoryIdempotencyStore } from './in-memory.idempotency-store';

describeIdempotencyStore('in-memory', async () => new InMemoryIdempotencyStore());

describe('InMemoryIdempotencyStore bound', () => {
  const answer = { status: 202, body: { ok: true } } as never;
  const start = { at: Date.now(), keepMs: 60_000 };

  it('forgets the oldest stored answer for a new key beyond maxEntries, never one in flight', async () => {
    const store = new InMemoryIdempotencyStore(Date.now, 3);
    const first = await store.begin('a', 'fa', 60_000, start);
    const second = await store.begin('b', 'fb', 60_000, start); // stays in flight
    const third = await store.begin('c', 'fc', 60_000, start);
    for (const [key, begun] of [
      ['a', first],
      ['c', third],
    ] as const)
      if (begun.state === 'started') await store.complete(key, begun.token, answer, 60_000);
    expect(second.state).toBe('started');

    await store.begin('d', 'fd', 60_000, start);
    expect(store.size).toBe(3);
    // 'a' was the oldest answer: a retry of it starts again; 'b' is still in flight.
    expect((await store.begin('a', 'fa', 60_000, start)).state).toBe('started');
    expect((await store.begin('b', 'fb', 60_000, start)).state).toBe('in-flight');
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => new InMemoryIdempotencyStore(Date.now, 0)).toThrow(
      'InMemoryIdempotencyStore: maxEntries must be a positive integer, got 0',
    );
  });
});
