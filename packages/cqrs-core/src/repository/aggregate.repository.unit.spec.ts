import { ConcurrencyConflictError, StreamNotFoundError } from '../event-store/event-store.errors';
import { type EventStore } from '../event-store/event-store.port';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { InMemorySnapshotStore } from '../snapshots/in-memory.snapshot-store';
import { SnapshotPolicies } from '../snapshots/snapshot.policy';
import { testEnvelope } from '../testing/envelope.fixture';
import { AggregateRepository } from './aggregate.repository';
import { StateNotRebuildableError } from './repository.errors';
import { Trainer } from '../../test/fixtures/trainer.domain';

// Against the real in-memory event store; the serializer round trip is part of every test.
const now = '2026-03-01T12:00:00.000Z';
const fast = { initialDelayMs: 1, maxDelayMs: 5 };

describe('AggregateRepository (class style)', () => {
  const repositoryOver = (
    store: EventStore,
    extra: Partial<ConstructorParameters<typeof AggregateRepository<Trainer>>[0]> = {},
  ) =>
    new AggregateRepository<Trainer>({
      eventStore: store,
      aggregateType: Trainer.type,
      create: (id) => new Trainer(id),
      ...extra,
    });

  it('saves uncommitted events and loads them back', async () => {
    const store = new InMemoryEventStore();
    const repository = repositoryOver(store);
    const fresh = await repository.load('Trainer-ash');
    expect(fresh.version).toBe(0);
    await expect(repository.loadExisting('Trainer-ash')).rejects.toBeInstanceOf(
      StreamNotFoundError,
    );
    fresh.move(1, 2, now);
    fresh.move(1, 2, now);
    await repository.save(fresh);
    expect(fresh.uncommittedEvents).toEqual([]);
    expect(fresh.persistedVersion).toBe(2);
    await repository.save(fresh); // nothing to save: no-op

    const loaded = await repository.loadExisting('Trainer-ash');
    expect(loaded.state).toEqual({ x: 2, y: 4, moves: 2, retired: false });
    expect(loaded.version).toBe(2);
    const [first] = await store.readStream('Trainer-ash');
    expect(first).toMatchObject({ aggregateType: 'Trainer', aggregateId: 'Trainer-ash' });
  });

  // A cut stream needs a snapshot at or after the cut (without one its load is refused, see
  // below); one created again after a soft delete does not.
  const snapshotted = () => ({
    snapshots: {
      store: new InMemorySnapshotStore(),
      policy: SnapshotPolicies.everyEvents(3),
      schemaVersion: 1,
    },
  });
  it.each([
    [
      'truncated before a version',
      snapshotted,
      (s: EventStore) => s.truncateStream('Trainer-ash', 3),
    ],
    ['cut by retention', snapshotted, (s: EventStore) => s.applyRetention({ maxCount: 1 })],
    [
      'soft-deleted and recreated',
      () => ({}),
      async (s: EventStore, r: AggregateRepository<Trainer>) => {
        await s.deleteStream('Trainer-ash', { mode: 'soft' });
        await r.update('Trainer-ash', (t) => t.move(1, 0, now));
      },
    ],
  ])(
    'loads and saves a stream %s at its real version',
    async (
      _,
      extra: () => Partial<ConstructorParameters<typeof AggregateRepository<Trainer>>[0]>,
      cut: (s: EventStore, r: AggregateRepository<Trainer>) => Promise<unknown>,
    ) => {
      const store = new InMemoryEventStore();
      const repository = repositoryOver(store, extra());
      await repository.update('Trainer-ash', (t) => {
        t.move(1, 0, now);
        t.move(1, 0, now);
        t.move(1, 0, now);
      });
      await cut(store, repository);
      const head = (await store.streamInfo('Trainer-ash')).version;
      const loaded = await repository.load('Trainer-ash');
      expect(loaded.version).toBe(head);
      expect(loaded.persistedVersion).toBe(head);
      const saved = await repository.update('Trainer-ash', (t) => t.move(0, 1, now), {
        retry: false,
      });
      expect(saved.version).toBe(head + 1);
      expect((await store.streamInfo('Trainer-ash')).version).toBe(head + 1);
    },
  );

  it('save returns the version and the log positions of what it appended', async () => {
    const store = new InMemoryEventStore();
    await store.append('Other-1', [testEnvelope('Noted', {})], { expectedVersion: 'no-stream' });
    const repository = repositoryOver(store);
    const trainer = await repository.load('Trainer-ash');
    trainer.move(1, 2, now);
    trainer.move(3, 4, now);
    const saved = await repository.save(trainer);
    expect(saved).toMatchObject({ streamId: 'Trainer-ash', version: 2, positions: [2, 3] });
    expect((await store.readAll()).map((e) => e.position).slice(1)).toEqual(saved.positions);
    // Nothing to save: nothing appended, no positions, the version unchanged.
    const again = await repository.save(trainer);
    expect(again.version).toBe(2);
    expect(again.positions).toBeUndefined();
  });

  it('refuses to save a stale aggregate', async () => {
    const repository = repositoryOver(new InMemoryEventStore());
    const a = await repository.load('Trainer-ash');
    const b = await repository.load('Trainer-ash');
    a.move(1, 0, now);
    b.move(0, 1, now);
    await repository.save(a);
    await expect(repository.save(b)).rejects.toMatchObject({
      name: 'ConcurrencyConflictError',
      expected: 'no-stream',
      actual: 1,
    });
    expect(b.uncommittedEvents).toHaveLength(1);
  });

  it('update retries a conflict with a freshly loaded aggregate', async () => {
    const store = new InMemoryEventStore();
    const repository = repositoryOver(store);
    let attempts = 0;
    const saved = await repository.update(
      'Trainer-ash',
      async (trainer) => {
        attempts++;
        if (attempts === 1)
          await repositoryOver(store).update('Trainer-ash', (other) => other.move(10, 0, now));
        trainer.move(1, 0, now);
      },
      { retry: fast },
    );
    expect(attempts).toBe(2);
    expect(saved.state).toMatchObject({ x: 11, moves: 2 });
    expect((await repository.load('Trainer-ash')).version).toBe(2);
  });

  it('update with retry disabled acts once and fails on a concurrent write', async () => {
    const store = new InMemoryEventStore();
    const repository = repositoryOver(store);
    let attempts = 0;
    await expect(
      repository.update(
        'Trainer-ash',
        async (trainer) => {
          attempts++;
          if (attempts === 1)
            await repositoryOver(store).update('Trainer-ash', (other) => other.move(10, 0, now));
          trainer.move(1, 0, now);
        },
        { retry: false },
      ),
    ).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect(attempts).toBe(1);
    expect((await repository.load('Trainer-ash')).state).toMatchObject({ x: 10, moves: 1 });
  });

  it('update with expectedVersion acts only on the version the caller saw, without retry', async () => {
    const store = new InMemoryEventStore();
    const repository = repositoryOver(store);
    await repository.update('Trainer-ash', (t) => t.move(1, 0, now));
    await repository.update('Trainer-ash', (t) => t.move(1, 0, now));
    let acted = 0;
    const stale = await repository
      .update('Trainer-ash', (t) => void (acted++, t.move(5, 5, now)), { expectedVersion: 1 })
      .catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ConcurrencyConflictError);
    expect(stale).toMatchObject({ streamId: 'Trainer-ash', expected: 1, actual: 2 });
    expect(acted).toBe(0);
    const saved = await repository.update('Trainer-ash', (t) => t.move(5, 5, now), {
      expectedVersion: 2,
    });
    expect(saved.version).toBe(3);
    // A writer that slips in between the load and the save: refused, not retried.
    await expect(
      repository.update(
        'Trainer-ash',
        async (t) => {
          await repositoryOver(store).update('Trainer-ash', (other) => other.move(1, 0, now));
          t.move(1, 0, now);
        },
        { expectedVersion: 3, retry: fast },
      ),
    ).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect((await repository.load('Trainer-ash')).version).toBe(4);
  });

  it('restores from snapshots, equal to a full replay', async () => {
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    const repository = repositoryOver(store, {
      snapshots: { store: snapshots, policy: SnapshotPolicies.everyEvents(2), schemaVersion: 1 },
    });
    for (let i = 1; i <= 5; i++) await repository.update('Trainer-ash', (t) => t.move(i, 1, now));
    expect((await snapshots.list('Trainer-ash')).map((s) => s.version)).toEqual([4, 2]);
    const fromSnapshot = await repository.load('Trainer-ash');
    const replayed = await repositoryOver(store).load('Trainer-ash');
    expect(fromSnapshot.state).toEqual(replayed.state);
    expect(fromSnapshot.version).toBe(5);
    expect(fromSnapshot).toBeInstanceOf(Trainer);
    fromSnapshot.move(1, 1, now);
    await repository.save(fromSnapshot);
    expect((await snapshots.list('Trainer-ash')).map((s) => s.version)).toEqual([6, 4]);
  });

  it('refuses to load an aggregate whose first events retention removed, with no snapshot', async () => {
    const store = new InMemoryEventStore();
    const repository = repositoryOver(store);
    for (let i = 1; i <= 3; i++) await repository.update('Trainer-ash', (t) => t.move(1, 0, now));
    await store.applyRetention({ maxCount: 1 });
    // From the initial state, the move left (x 3) was the whole trainer: moves 1, not 3.
    await expect(repository.load('Trainer-ash')).rejects.toMatchObject({
      name: 'StateNotRebuildableError',
      streamId: 'Trainer-ash',
      firstVersion: 3,
    });
    await expect(repository.update('Trainer-ash', (t) => t.move(1, 0, now))).rejects.toBeInstanceOf(
      StateNotRebuildableError,
    );
    expect(await store.readStream('Trainer-ash')).toHaveLength(1);
  });
});
