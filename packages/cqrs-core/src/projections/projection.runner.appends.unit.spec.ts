import { type StoredEvent } from '../event-store/event-store.port';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { InMemoryCheckpointStore } from '../outbox/checkpoint-store.port';
import { deposit, until, wait } from './balances.fixture';
import { type Projection } from './projection.port';
import { ProjectionRunner } from './projection.runner';

// A catch-up that turns live, and a rebuild, while other writers append: the read model must
// hold every event exactly once, in log order (no event lost at the hand-over, none repeated).

/** A read model that records every event it is given, so a loss or a repeat shows. */
function recording() {
  const positions: number[] = [];
  const projection: Projection = {
    name: 'recording',
    types: ['Deposited'],
    apply(event: StoredEvent) {
      positions.push(event.position);
    },
    reset() {
      positions.length = 0;
    },
  };
  return { projection, positions };
}

/** Appends to a few accounts from several writers at once until `stop()`; resolves with the count. */
function appending(store: InMemoryEventStore) {
  let stopped = false;
  const writer = async (account: string) => {
    let appended = 0;
    while (!stopped) {
      await deposit(store, account, 1);
      appended++;
      await wait(1);
    }
    return appended;
  };
  const writers = Promise.all(['a', 'b', 'c'].map(writer));
  return {
    stop: async () => {
      stopped = true;
      return (await writers).reduce((sum, count) => sum + count, 0);
    },
  };
}

describe('ProjectionRunner under concurrent appends', () => {
  it('applies every event once, in order, across the catch-up and the live follow', async () => {
    const store = new InMemoryEventStore();
    for (let i = 0; i < 50; i++) await deposit(store, `old-${i % 5}`, 1);
    const writers = appending(store);
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 2,
      batchSize: 7,
    });
    const { projection, positions } = recording();
    runner.start(projection);
    await runner.whenCaughtUp();
    await wait(50); // live, while the writers go on
    const total = 50 + (await writers.stop());
    await until(() => positions.length >= total);
    await runner.stop();
    expect(positions).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });

  it('rebuilds while events are appended: the new read model holds each event once', async () => {
    const store = new InMemoryEventStore();
    for (let i = 0; i < 30; i++) await deposit(store, `old-${i % 3}`, 1);
    const checkpoints = new InMemoryCheckpointStore();
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints,
      pollIntervalMs: 2,
      batchSize: 5,
    });
    const { projection, positions } = recording();
    runner.start(projection);
    await runner.whenCaughtUp();
    const writers = appending(store);
    await wait(20);
    await runner.rebuild('recording');
    await runner.whenCaughtUp('recording');
    await wait(20);
    const total = 30 + (await writers.stop());
    await until(() => positions.length >= total);
    await runner.stop();
    expect(positions).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(await checkpoints.load('recording')).toBe(total);
  });
});
