import {
  type AppendOptions,
  type AppendResult,
  checkCheckpointName,
  checkCheckpointPosition,
  type CheckpointStore,
  createInMemoryEventStorage,
  type Envelope,
  EventStoreDecorator,
  InMemoryEventStore,
} from '@causeway/cqrs-core';
import {
  describeCheckpointStoreConformance,
  describeEventStoreConformance,
  testEnvelope,
} from '@causeway/cqrs-core/testing';

// #region guide:own-checkpoint-store
/** Checkpoints in any key-value store with an atomic "set if greater" (here: a Map). */
class KeyValueCheckpointStore implements CheckpointStore {
  constructor(private readonly kv = new Map<string, number>()) {}

  async load(name: string): Promise<number> {
    checkCheckpointName(name); // the port's rules: every store refuses the same mistakes
    return this.kv.get(`checkpoint:${name}`) ?? 0;
  }

  async save(name: string, position: number): Promise<void> {
    checkCheckpointName(name);
    checkCheckpointPosition(position);
    const key = `checkpoint:${name}`;
    this.kv.set(key, Math.max(position, this.kv.get(key) ?? 0)); // never backwards
  }

  async reset(name: string): Promise<void> {
    checkCheckpointName(name);
    this.kv.delete(`checkpoint:${name}`); // a rebuild starts from 0
  }
}

describeCheckpointStoreConformance('key-value', async () => new KeyValueCheckpointStore());
// #endregion

// #region guide:own-event-store
/** Counts appended events per stream; everything else is the wrapped store's. */
class CountingEventStore extends EventStoreDecorator {
  readonly appended = new Map<string, number>();

  override async append(
    streamId: string,
    events: readonly Envelope[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const result = await this.store.append(streamId, events, options);
    const count = (this.appended.get(streamId) ?? 0) + result.positions.length;
    this.appended.set(streamId, count);
    return result;
  }
}

describeEventStoreConformance(
  'counting in-memory',
  { densePositions: true, noSkip: { writers: 4, appendsPerWriter: 250 } },
  async () => {
    const storage = createInMemoryEventStorage(); // shared, like one server for two processes
    const store = new CountingEventStore(new InMemoryEventStore({ storage }));
    await store.init();
    return {
      store,
      connect: async (options = {}) =>
        new CountingEventStore(new InMemoryEventStore({ storage, serializer: options.serializer })),
      async corrupt(streamId, version) {
        // Change stored data behind the store's back; reads must fail with ChecksumMismatchError.
        const record = storage.streams.get(streamId)?.events.find((r) => r.version === version);
        if (!record) throw new Error(`no event ${streamId}@${version}`);
        record.serialized = { ...record.serialized, data: '{"tampered":true}' };
      },
      dispose: () => store.close(),
    };
  },
);
// #endregion

describe('the counting decorator', () => {
  it('counts what was written, not idempotent re-appends', async () => {
    const store = new CountingEventStore(new InMemoryEventStore());
    const event = testEnvelope('MoneyDeposited', { amount: 1 });
    await store.append('acc-1', [event], { expectedVersion: 'no-stream' });
    await store.append('acc-1', [event], { expectedVersion: 'no-stream' });
    expect(store.appended.get('acc-1')).toBe(1);
  });
});
