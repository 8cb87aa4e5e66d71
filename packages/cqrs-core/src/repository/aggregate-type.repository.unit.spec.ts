import { AggregateRoot } from '../domain/aggregate-root';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { InMemorySnapshotStore } from '../snapshots/in-memory.snapshot-store';
import { SnapshotPolicies } from '../snapshots/snapshot.policy';
import { AggregateRepository } from './aggregate.repository';
import { commandHandler } from './command.handler';
import { deciderRepository } from './decider.repository';
import { AggregateTypeMismatchError } from './repository.errors';
import { Trainer, move, trainerDecider } from '../../test/fixtures/trainer.domain';

// Two aggregate types given the same stream id: the repository's aggregateType is checked on
// load, so the second type neither decides on nor appends to the first one's stream.
const now = '2026-03-01T12:00:00.000Z';

type GymEvent = { type: 'GymRegistered'; data: { name: string } };
class Gym extends AggregateRoot<{ name: string | null }, GymEvent> {
  protected initialState() {
    return { name: null };
  }
  protected evolve(_: { name: string | null }, event: GymEvent) {
    return { name: event.data.name };
  }
  register(name: string): void {
    this.apply({ type: 'GymRegistered', data: { name } });
  }
}

describe('repositories check the aggregate type of a stream', () => {
  const setUp = (snapshots?: InMemorySnapshotStore) => {
    const store = new InMemoryEventStore();
    const snapshotSettings = snapshots && {
      store: snapshots,
      policy: SnapshotPolicies.always,
      schemaVersion: 1,
    };
    const trainers = new AggregateRepository<Trainer>({
      eventStore: store,
      aggregateType: 'Trainer',
      create: (id) => new Trainer(id),
      snapshots: snapshotSettings,
    });
    const gyms = new AggregateRepository<Gym>({
      eventStore: store,
      aggregateType: 'Gym',
      create: (id) => new Gym(id),
      snapshots: snapshotSettings,
    });
    return { store, trainers, gyms };
  };

  it('refuses to load or update a stream of another type, and writes nothing', async () => {
    const { store, trainers, gyms } = setUp();
    await trainers.update('42', (t) => {
      t.move(1, 2, now);
      t.move(1, 0, now);
    });

    const error = await gyms.update('42', (g) => g.register('Ada')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AggregateTypeMismatchError);
    expect(error).toMatchObject({
      streamId: '42',
      expectedType: 'Gym',
      foundType: 'Trainer',
      foundIn: { event: 1 },
    });
    expect((error as Error).message).toContain('Stream 42 belongs to aggregate type "Trainer"');
    await expect(gyms.load('42')).rejects.toBeInstanceOf(AggregateTypeMismatchError);
    expect((await store.readStream('42')).map((e) => e.type)).toEqual([
      'TrainerMoved',
      'TrainerMoved',
    ]);
    // The owner still loads and writes its stream.
    const trainer = await trainers.update('42', (t) => t.move(0, 1, now));
    expect(trainer.state).toMatchObject({ x: 2, y: 3, moves: 3 });
  });

  it('commandHandler and deciderRepository check it too', async () => {
    const { store, gyms } = setUp();
    await gyms.update('7', (g) => g.register('Ada'));
    const handle = commandHandler(store, trainerDecider, { aggregateType: 'Trainer' });
    await expect(handle('7', move(1, 1, now))).rejects.toBeInstanceOf(AggregateTypeMismatchError);
    const repository = deciderRepository(trainerDecider, {
      eventStore: store,
      aggregateType: 'Trainer',
    });
    await expect(repository.load('7')).rejects.toThrow(/belongs to aggregate type "Gym"/);
    expect(await store.readStream('7')).toHaveLength(1);
    // Without an aggregateType ('', the handler's default) nothing is checked.
    const unchecked = commandHandler(store, trainerDecider);
    await expect(unchecked('8', move(1, 1, now))).resolves.toMatchObject({
      nextExpectedVersion: 1,
    });
  });

  it('does not use a snapshot of another type', async () => {
    const snapshots = new InMemorySnapshotStore();
    const { trainers, gyms } = setUp(snapshots);
    await trainers.update('9', (t) => t.move(3, 3, now)); // snapshotted at v1
    expect(await snapshots.list('9')).toHaveLength(1);
    const error = await gyms.load('9').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AggregateTypeMismatchError);
    expect(error).toMatchObject({ foundType: 'Trainer', foundIn: 'snapshot' });
  });

  it('accepts streams written under a former name of the type', async () => {
    const snapshots = new InMemorySnapshotStore();
    const store = new InMemoryEventStore();
    const before = new AggregateRepository<Trainer>({
      eventStore: store,
      aggregateType: 'Coach',
      create: (id) => new Trainer(id),
    });
    await before.update('trainer-1', (t) => t.move(1, 1, now));
    const renamed = (formerAggregateTypes?: string[]) =>
      new AggregateRepository<Trainer>({
        eventStore: store,
        aggregateType: 'Trainer',
        formerAggregateTypes,
        create: (id) => new Trainer(id),
        snapshots: { store: snapshots, policy: SnapshotPolicies.always, schemaVersion: 1 },
      });
    await expect(renamed().load('trainer-1')).rejects.toMatchObject({
      expectedType: 'Trainer',
      foundType: 'Coach',
    });
    const trainers = renamed(['Coach']);
    const trainer = await trainers.update('trainer-1', (t) => t.move(1, 1, now));
    expect(trainer.state).toMatchObject({ x: 2, y: 2, moves: 2 });
    const stored = await store.readStream('trainer-1');
    expect(stored.map((e) => e.aggregateType)).toEqual(['Coach', 'Trainer']);
    expect((await trainers.load('trainer-1')).version).toBe(2);
  });
});
