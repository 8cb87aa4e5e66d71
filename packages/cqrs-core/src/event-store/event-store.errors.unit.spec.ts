import { testEnvelope } from '../testing/envelope.fixture';
import { ConcurrencyConflictError } from './event-store.errors';
import { InMemoryEventStore } from './in-memory/in-memory.event-store';
import { retryOnConflict } from '../repository/retry-on-conflict';

const conflictOf = (outcome: Promise<unknown>) =>
  outcome.then(
    () => {
      throw new Error('the append went through');
    },
    (error: unknown) => error as ConcurrencyConflictError,
  );

describe('ConcurrencyConflictError messages', () => {
  it("words an 'exists' or 'no-stream' conflict as what the stream is", async () => {
    const store = new InMemoryEventStore();
    const empty = await conflictOf(
      store.append('account-1', [testEnvelope('Opened', {})], { expectedVersion: 'exists' }),
    );
    expect(empty).toBeInstanceOf(ConcurrencyConflictError);
    expect(empty.message).toBe(
      'Concurrency conflict on stream account-1: expected the stream to exist, but it is empty',
    );

    await store.append('account-1', [testEnvelope('Opened', {}), testEnvelope('Renamed', {})], {
      expectedVersion: 'no-stream',
    });
    const taken = await conflictOf(
      store.append('account-1', [testEnvelope('Opened', {})], { expectedVersion: 'no-stream' }),
    );
    expect(taken).toMatchObject({ expected: 'no-stream', actual: 2 });
    expect(taken.message).toBe(
      'Concurrency conflict on stream account-1: expected no stream, but it is at version 2',
    );

    await store.deleteStream('account-1', { mode: 'soft' });
    const deleted = await conflictOf(
      store.append('account-1', [testEnvelope('Opened', {})], { expectedVersion: 'exists' }),
    );
    expect(deleted.message).toBe(
      'Concurrency conflict on stream account-1: expected the stream to exist, but it has no ' +
        'events left (at version 2)',
    );
  });

  it('words a batch partly stored already as that, also out of retryOnConflict', async () => {
    const store = new InMemoryEventStore();
    const [a, b, c] = [testEnvelope('A', {}), testEnvelope('B', {}), testEnvelope('C', {})];
    await store.append('account-1', [a, b], { expectedVersion: 'no-stream' });
    const overlap = await conflictOf(
      store.append('account-1', [b, c], { expectedVersion: 'exists' }),
    );
    expect(overlap.overlap).toBe(true);
    expect(overlap.message).toBe(
      "Concurrency conflict on stream account-1: some of the events' messageIds are stored in " +
        'it already, but not as this batch (a retried append must send the same messageIds in ' +
        'the same order); the expected version (exists) held, at version 2',
    );
    // Not retried: the same batch conflicts the same way. The store's own error, after 1 attempt.
    let attempts = 0;
    const gaveUp = await conflictOf(
      retryOnConflict(
        () => (attempts++, store.append('account-1', [b, c], { expectedVersion: 'any' })),
        { maxAttempts: 2, initialDelayMs: 0 },
      ),
    );
    expect(gaveUp).toMatchObject({ overlap: true, expected: 'any', actual: 2 });
    expect(gaveUp.attempts).toBeUndefined();
    expect(attempts).toBe(1);
  });

  it('keeps a numeric conflict as expected and actual version', () => {
    expect(new ConcurrencyConflictError('account-1', 3, 4).message).toBe(
      'Concurrency conflict on stream account-1: expected version 3, actual 4',
    );
  });
});
