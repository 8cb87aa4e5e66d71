import { z } from 'zod';
import { type Decider } from '../domain/decider';
import { messageType, type DomainEventOf } from '../messages/message.type';
import { SerializerRegistry } from '../messages/serializer.registry';
import { type EventStore } from '../event-store/event-store.port';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { InMemorySnapshotStore } from '../snapshots/in-memory.snapshot-store';
import { type SnapshotStore } from '../snapshots/snapshot-store.port';
import { SnapshotPolicies } from '../snapshots/snapshot.policy';
import { type SnapshotDecodeError } from '../snapshots/snapshot.errors';
import { MessageFactory } from '../messages/message.factory';
import { commandHandler, handleCommand } from './command.handler';
import { deciderRepository } from './decider.repository';
import { type SnapshotFailure } from './event-sourced.repository';
import {
  CommandHistoryRemovedError,
  SnapshotGapError,
  StateNotRebuildableError,
} from './repository.errors';
import {
  type TrainerCommand,
  type TrainerEvent,
  type TrainerState,
  move,
  trainerDecider,
} from '../../test/fixtures/trainer.domain';
import { account } from '../../test/fixtures/command-redelivery.scenarios';

type TallyEvent = {
  type: 'Added';
  data: { n: number };
  metadata?: Record<string, unknown>;
};

// Against the real in-memory event store; the serializer round trip is part of every test.
const now = '2026-03-01T12:00:00.000Z';

describe('EventSourcedRepository with snapshots', () => {
  async function history(
    store: EventStore,
    count: number,
    options: Parameters<typeof handleCommand>[4] = {},
  ) {
    for (let i = 1; i <= count; i++) {
      await handleCommand(
        store,
        'Trainer-ash',
        trainerDecider,
        move(i, -i, `2026-03-01T12:00:0${i % 10}.000Z`),
        options,
      );
    }
  }

  it('saves and snapshots the state a replay builds, also when evolve reads the metadata', async () => {
    // An evolve that keeps what only stored events carry: their version, position and time.
    interface Seen {
      total: number;
      last?: { version: unknown; position: unknown; timestamp: unknown };
    }
    const tally: Decider<{ add: number }, TallyEvent, Seen> = {
      initialState: () => ({ total: 0 }),
      decide: (command) => [{ type: 'Added', data: { n: command.add } }],
      evolve: (state, event) => ({
        total: state.total + event.data.n,
        last: {
          version: event.metadata?.version,
          position: event.metadata?.position,
          timestamp: event.metadata?.timestamp,
        },
      }),
    };
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    const settings = { store: snapshots, policy: SnapshotPolicies.always, schemaVersion: 1 };
    const options = { aggregateType: 'Tally', snapshots: settings };
    await handleCommand(store, 'Tally-1', tally, { add: 1 }, options);
    const saved = await handleCommand(store, 'Tally-1', tally, { add: 2 }, options);
    const replayed = await deciderRepository(tally, {
      eventStore: store,
      aggregateType: 'Tally',
    }).load('Tally-1');
    const fromSnapshot = await deciderRepository(tally, { eventStore: store, ...options }).load(
      'Tally-1',
    );
    expect(replayed.state.last).toMatchObject({ version: 2, position: 2 });
    expect(replayed.state.last?.timestamp).toEqual(expect.any(String));
    expect(saved.newState).toEqual(replayed.state);
    expect(fromSnapshot).toMatchObject({ snapshotVersion: 2, replayedEvents: 0 });
    expect(fromSnapshot.state).toEqual(replayed.state);
  });

  it("never snapshots a retried save (a re-append), whose events keep the first attempt's metadata", async () => {
    interface Kept {
      metadata: unknown[];
    }
    const keep: Decider<{ add: number }, TallyEvent, Kept> = {
      initialState: () => ({ metadata: [] }),
      decide: (command) => [{ type: 'Added', data: { n: command.add } }],
      evolve: (state, event) => ({ metadata: [...state.metadata, event.metadata] }),
    };
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    let clock = Date.parse('2026-03-01T12:00:01.000Z');
    const repository = () =>
      deciderRepository(keep, {
        eventStore: store,
        aggregateType: 'Kept',
        // Every attempt gives the event the same id, a later time.
        messages: new MessageFactory({
          newId: () => 'e0c4cf1c-3b5d-4a8e-9d21-6f1f0a4b7c11',
          now: () => new Date((clock += 1_000)),
        }),
        snapshots: { store: snapshots, policy: SnapshotPolicies.always, schemaVersion: 1 },
      });
    const loaded = await repository().load('Kept-1');
    const first = await repository().save(loaded, [{ type: 'Added', data: { n: 1 } }]);
    const replayed = await deciderRepository(keep, {
      eventStore: store,
      aggregateType: 'Kept',
    }).load('Kept-1');
    // What the first save folded is what a replay folds: the whole metadata, alike.
    expect(first.state).toEqual(replayed.state);
    await snapshots.delete('Kept-1');
    // The retry of that save (its answer was lost): a re-append, not snapshotted.
    const retried = await repository().save(loaded, [{ type: 'Added', data: { n: 1 } }]);
    expect(retried.positions).toEqual([]);
    expect(await snapshots.list('Kept-1')).toEqual([]);
  });

  it('loads the latest snapshot plus the events after it, equal to a full replay', async () => {
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    const settings = {
      store: snapshots,
      policy: SnapshotPolicies.everyEvents(3),
      schemaVersion: 1,
    };
    await history(store, 7, { aggregateType: 'Trainer', snapshots: settings });
    expect((await snapshots.list('Trainer-ash')).map((s) => s.version)).toEqual([6, 3]);

    const withSnapshots = await deciderRepository(trainerDecider, {
      eventStore: store,
      aggregateType: 'Trainer',
      snapshots: settings,
    }).load('Trainer-ash');
    const fullReplay = await deciderRepository(trainerDecider, {
      eventStore: store,
      aggregateType: 'Trainer',
    }).load('Trainer-ash');
    expect(withSnapshots).toMatchObject({ version: 7, snapshotVersion: 6, replayedEvents: 1 });
    expect(fullReplay).toMatchObject({ version: 7, snapshotVersion: 0, replayedEvents: 7 });
    expect(withSnapshots.state).toEqual(fullReplay.state);
    expect(withSnapshots.state).toEqual({ x: 28, y: -28, moves: 7, retired: false });
  });

  it('loads a stream that ends exactly at the snapshot', async () => {
    const store = new InMemoryEventStore();
    const settings = {
      store: new InMemorySnapshotStore(),
      policy: SnapshotPolicies.always,
      schemaVersion: 1,
    };
    await history(store, 2, { snapshots: settings });
    const loaded = await deciderRepository(trainerDecider, {
      eventStore: store,
      aggregateType: 'T',
      snapshots: settings,
    }).load('Trainer-ash');
    expect(loaded).toMatchObject({
      version: 2,
      snapshotVersion: 2,
      replayedEvents: 0,
      state: { x: 3, moves: 2 },
    });
  });

  /** `count` moves of Trainer-ash with a snapshot every `every` events, and its repository. */
  async function snapshotted(count: number, every: number) {
    const store = new InMemoryEventStore();
    const settings = {
      store: new InMemorySnapshotStore(),
      policy: SnapshotPolicies.everyEvents(every),
      schemaVersion: 1,
    };
    await history(store, count, { snapshots: settings });
    const repository = deciderRepository(trainerDecider, {
      eventStore: store,
      aggregateType: 'T',
      snapshots: settings,
    });
    return { store, repository };
  }

  it('refuses to fold a stream truncated past its snapshot, naming the missing events', async () => {
    const { store, repository } = await snapshotted(5, 3);
    // Up to the snapshot (version 3) is what truncation is for: the load still adds up.
    await store.truncateStream('Trainer-ash', 3);
    await expect(repository.load('Trainer-ash')).resolves.toMatchObject({
      version: 5,
      snapshotVersion: 3,
      state: { moves: 5 },
    });
    // Past it, event 4 is gone: a wrong state must not be built from what is left.
    await store.truncateStream('Trainer-ash', 5);
    const error = await repository.load('Trainer-ash').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SnapshotGapError);
    expect(error).toMatchObject({ streamId: 'Trainer-ash', snapshotVersion: 3, firstVersion: 5 });
    expect((error as Error).message).toContain('events 4..4 are missing');
  });

  it('refuses to fold a cut stream whose snapshots a schema bump made unusable', async () => {
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    const policy = SnapshotPolicies.everyEvents(3);
    await history(store, 7, { snapshots: { store: snapshots, policy, schemaVersion: 1 } });
    await store.truncateStream('Trainer-ash', 6); // up to the latest snapshot (6): allowed
    const bumped = deciderRepository(trainerDecider, {
      eventStore: store,
      aggregateType: 'T',
      snapshots: { store: snapshots, policy, schemaVersion: 2 },
    });
    // Only events 6 and 7 are left and no snapshot is usable: 2 moves would be a wrong state.
    await expect(bumped.load('Trainer-ash')).rejects.toMatchObject({
      name: 'StateNotRebuildableError',
      streamId: 'Trainer-ash',
      firstVersion: 6,
      snapshotSchemas: [1, 1],
      schemaVersion: 2,
    });
  });

  it('refuses to fold a stream cut up to its snapshot, no event left, once the snapshot is unusable', async () => {
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    const policy = SnapshotPolicies.everyEvents(3);
    await history(store, 6, { snapshots: { store: snapshots, policy, schemaVersion: 1 } });
    // Every event up to the latest snapshot (6), so all of them (retention maxCount 0): allowed.
    await store.truncateStream('Trainer-ash', 7);
    const bumped = deciderRepository(trainerDecider, {
      eventStore: store,
      aggregateType: 'T',
      snapshots: { store: snapshots, policy, schemaVersion: 2 },
    });
    // Its state lives only in the schema 1 snapshots: the initial state would be a reset.
    await expect(bumped.load('Trainer-ash')).rejects.toMatchObject({
      name: 'StateNotRebuildableError',
      streamId: 'Trainer-ash',
      firstVersion: 7,
      snapshotSchemas: [1, 1],
      schemaVersion: 2,
    });
    await expect(
      handleCommand(store, 'Trainer-ash', trainerDecider, move(9, 9, now), {
        aggregateType: 'T',
        snapshots: { store: snapshots, policy, schemaVersion: 2 },
      }),
    ).rejects.toMatchObject({ name: 'StateNotRebuildableError' });
    expect(await store.streamInfo('Trainer-ash')).toMatchObject({ version: 6, firstVersion: 7 });
    // A stream never written, or soft-deleted, has no state to lose: loaded from the initial one.
    await expect(bumped.load('Trainer-new')).resolves.toMatchObject({ version: 0 });
    await store.deleteStream('Trainer-ash', { mode: 'soft' });
    await expect(bumped.load('Trainer-ash')).resolves.toMatchObject({
      version: 0,
      state: { moves: 0 },
    });
  });

  it('folds a stream created again after a deletion from the initial state (no snapshots left)', async () => {
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    const settings = {
      store: snapshots,
      policy: SnapshotPolicies.everyEvents(2),
      schemaVersion: 1,
    };
    await history(store, 3, { snapshots: settings });
    await store.deleteStream('Trainer-ash', { mode: 'soft' });
    await snapshots.delete('Trainer-ash'); // a deleted stream's snapshots go with it
    await history(store, 1, { snapshots: settings });
    await expect(
      deciderRepository(trainerDecider, {
        eventStore: store,
        aggregateType: 'T',
        snapshots: settings,
      }).load('Trainer-ash'),
    ).resolves.toMatchObject({ version: 4, state: { moves: 1 } });
  });

  it('never loads a deleted stream, or one behind its snapshot, from that snapshot', async () => {
    const { store, repository } = await snapshotted(3, 3);
    // Soft-deleted right at its snapshot, the snapshots not deleted (yet): the stream has no
    // events, and a command on it must start from the initial state, as without a snapshot.
    await store.deleteStream('Trainer-ash', { mode: 'soft' });
    const deleted = await repository.load('Trainer-ash');
    expect(deleted).toMatchObject({ version: 0, snapshotVersion: 0, state: { moves: 0 } });
    // Created again: versions continue, the state starts afresh.
    await expect(
      repository.save(deleted, [{ type: 'TrainerMoved', data: { x: 1, y: 1, at: now } }]),
    ).resolves.toMatchObject({ version: 4, state: { x: 1, y: 1, moves: 1 } });
    // Soft-deleted after more events than the snapshot holds: deleted too, not a gap.
    const later = await snapshotted(4, 3);
    await later.store.deleteStream('Trainer-ash', { mode: 'soft' });
    await expect(later.repository.load('Trainer-ash')).resolves.toMatchObject({
      version: 0,
      state: { moves: 0 },
    });
    // Hard-deleted: nothing of it is loaded.
    const hard = await snapshotted(3, 3);
    await hard.store.deleteStream('Trainer-ash', { mode: 'hard' });
    await expect(hard.repository.load('Trainer-ash')).resolves.toMatchObject({
      version: 0,
      state: { moves: 0 },
    });
    // A snapshot ahead of the stream (the event store was emptied, the snapshots kept): the
    // stream's own events are folded, and its next save expects its real version.
    const snapshots = new InMemorySnapshotStore();
    await snapshots.save({
      streamId: 'Trainer-ash',
      version: 5,
      schemaVersion: 1,
      state: { x: 9, y: 9, moves: 5, retired: false },
      createdAt: now,
    });
    const fresh = new InMemoryEventStore();
    await history(fresh, 2);
    const behind = deciderRepository(trainerDecider, {
      eventStore: fresh,
      aggregateType: 'T',
      snapshots: { store: snapshots, policy: SnapshotPolicies.never, schemaVersion: 1 },
    });
    const loaded = await behind.load('Trainer-ash');
    expect(loaded).toMatchObject({ version: 2, snapshotVersion: 0, state: { moves: 2 } });
    await expect(
      behind.save(loaded, [{ type: 'TrainerMoved', data: { x: 0, y: 0, at: now } }]),
    ).resolves.toMatchObject({ version: 3 });
  });

  it('notices events removed after the snapshot even when none are left after it', async () => {
    const { store, repository } = await snapshotted(3, 2);
    // Truncating the snapshot's own event (version 2) is allowed: event 3 follows the snapshot.
    await store.truncateStream('Trainer-ash', 3);
    await expect(repository.load('Trainer-ash')).resolves.toMatchObject({
      version: 3,
      snapshotVersion: 2,
      replayedEvents: 1,
      state: { moves: 3 },
    });
    // Every event after the snapshot gone: the stream is at 3, the snapshot at 2. Returning the
    // snapshot's state as version 2 would be stale, and every save would conflict for ever.
    await store.truncateStream('Trainer-ash', 4);
    await expect(repository.load('Trainer-ash')).rejects.toMatchObject({
      name: 'SnapshotGapError',
      snapshotVersion: 2,
      firstVersion: 4,
    });
  });

  it('loads a stream cut up to its snapshot while another writer appends to it: no false gap', async () => {
    // The other writer's move lands right after the load read the (empty) tail.
    class RacedStore extends InMemoryEventStore {
      race: (() => Promise<unknown>) | undefined;
      override async readStream(...args: Parameters<EventStore['readStream']>) {
        const read = await super.readStream(...args);
        const race = this.race;
        this.race = undefined;
        await race?.();
        return read;
      }
    }
    const store = new RacedStore();
    const settings = {
      store: new InMemorySnapshotStore(),
      policy: SnapshotPolicies.everyEvents(2),
      schemaVersion: 1,
    };
    await history(store, 2, { snapshots: settings });
    await store.truncateStream('Trainer-ash', 3); // up to the snapshot (version 2): allowed
    const repository = deciderRepository(trainerDecider, {
      eventStore: store,
      aggregateType: 'T',
      snapshots: settings,
    });
    store.race = () =>
      handleCommand(store, 'Trainer-ash', trainerDecider, move(3, -3, now), {
        snapshots: settings,
      });
    await expect(repository.load('Trainer-ash')).resolves.toMatchObject({
      version: 3,
      snapshotVersion: 2,
      replayedEvents: 1,
      state: { moves: 3 },
    });
  });

  it('ignores a snapshot of an outdated state schema, replays, and snapshots the new schema', async () => {
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    await history(store, 4, {
      snapshots: { store: snapshots, policy: SnapshotPolicies.everyEvents(4), schemaVersion: 1 },
    });
    expect((await snapshots.list('Trainer-ash')).map((s) => [s.version, s.schemaVersion])).toEqual([
      [4, 1],
    ]);

    // Release 2 changes the state shape: a distance field. An old snapshot would lack it.
    type V2 = TrainerState & { distance: number };
    const v2: Decider<TrainerCommand, TrainerEvent, V2> = {
      initialState: () => ({ ...trainerDecider.initialState(), distance: 0 }),
      evolve: (state, event) => {
        const next = trainerDecider.evolve(state, event);
        return {
          ...next,
          distance: state.distance + Math.abs(next.x - state.x) + Math.abs(next.y - state.y),
        };
      },
      decide: (command, state) => trainerDecider.decide(command, state),
    };
    const settings = {
      store: snapshots,
      policy: SnapshotPolicies.everyEvents(5),
      schemaVersion: 2,
    };
    const repository = deciderRepository(v2, {
      eventStore: store,
      aggregateType: 'Trainer',
      snapshots: settings,
    });
    const loaded = await repository.load('Trainer-ash');
    expect(loaded).toMatchObject({ version: 4, snapshotVersion: 0, replayedEvents: 4 });
    expect(loaded.state.distance).toBe(2 * (1 + 2 + 3 + 4));

    await handleCommand(store, 'Trainer-ash', v2, move(1, 1, now), { snapshots: settings });
    const rebuilt = await snapshots.loadLatest<V2>('Trainer-ash', { schemaVersion: 2 });
    expect(rebuilt).toMatchObject({
      version: 5,
      schemaVersion: 2,
      state: { distance: 22, moves: 5 },
    });
    await expect(repository.load('Trainer-ash')).resolves.toMatchObject({
      snapshotVersion: 5,
      replayedEvents: 0,
    });
  });

  it('still saves when the snapshot cannot be written, and reports it', async () => {
    // BigInt state is not JSON: the real snapshot store fails to serialize it.
    type Tally = { total: bigint };
    const tally: Decider<{ add: number }, { type: 'Added'; data: { n: number } }, Tally> = {
      initialState: () => ({ total: 0n }),
      evolve: (state, event) => ({ total: state.total + BigInt(event.data.n) }),
      decide: (command) => ({ type: 'Added', data: { n: command.add } }),
    };
    const store = new InMemoryEventStore();
    const failures: [unknown, SnapshotFailure][] = [];
    const result = await handleCommand(
      store,
      'Tally-1',
      tally,
      { add: 5 },
      {
        snapshots: {
          store: new InMemorySnapshotStore(),
          policy: SnapshotPolicies.always,
          schemaVersion: 1,
        },
        onSnapshotError: (error, failure) => failures.push([error, failure]),
      },
    );
    expect(result).toMatchObject({ newState: { total: 5n }, nextExpectedVersion: 1 });
    expect(await store.readStream('Tally-1')).toHaveLength(1);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.[0]).toBeInstanceOf(TypeError);
    expect(failures[0]?.[1]).toEqual({ streamId: 'Tally-1', operation: 'save', version: 1 });
  });

  it('falls back to a full replay when no snapshot can be read; the store reports each', async () => {
    const store = new InMemoryEventStore();
    const skipped: SnapshotDecodeError[] = [];
    const unreadable = new InMemorySnapshotStore({
      serializer: {
        serialize: (state) => JSON.stringify(state),
        deserialize: () => {
          throw new SyntaxError('written by an incompatible serializer');
        },
      },
      onUnreadable: (error) => skipped.push(error),
    });
    const failures: SnapshotFailure[] = [];
    const options = {
      aggregateType: 'Trainer',
      snapshots: { store: unreadable, policy: SnapshotPolicies.always, schemaVersion: 1 },
      onSnapshotError: (_: unknown, failure: SnapshotFailure) => failures.push(failure),
    };
    await history(store, 3, options);
    const loaded = await deciderRepository(trainerDecider, { ...options, eventStore: store }).load(
      'Trainer-ash',
    );
    expect(loaded).toMatchObject({
      version: 3,
      snapshotVersion: 0,
      replayedEvents: 3,
      state: { x: 6, moves: 3 },
    });
    // The newest and its spare (keep 2), each loaded and passed over; no load failed.
    expect(skipped.map((e) => [e.streamId, e.version])).toContainEqual(['Trainer-ash', 3]);
    expect(skipped.map((e) => [e.streamId, e.version])).toContainEqual(['Trainer-ash', 2]);
    expect(failures.filter((f) => f.operation === 'load')).toEqual([]);
  });

  it('still saves and loads when both the snapshot store and the onSnapshotError hook throw', async () => {
    const down = () => Promise.reject(new Error('snapshot store down'));
    const broken: SnapshotStore = {
      init: down,
      save: down,
      loadLatest: down,
      list: down,
      delete: down,
      close: down,
    };
    const reported: SnapshotFailure['operation'][] = [];
    const options = {
      aggregateType: 'Trainer',
      snapshots: { store: broken, policy: SnapshotPolicies.always, schemaVersion: 1 },
      onSnapshotError: (_: unknown, failure: SnapshotFailure) => {
        reported.push(failure.operation);
        throw new Error('hook bug');
      },
    };
    const events = new InMemoryEventStore();
    await expect(history(events, 2, options)).resolves.toBeUndefined();
    expect(await events.readStream('Trainer-ash')).toHaveLength(2);
    await expect(
      deciderRepository(trainerDecider, { ...options, eventStore: events }).load('Trainer-ash'),
    ).resolves.toMatchObject({ version: 2, snapshotVersion: 0, state: { x: 3, moves: 2 } });
    expect(reported).toContain('save');
    expect(reported).toContain('load');
  });

  it('reports a failing snapshot policy without failing the save', async () => {
    const store = new InMemoryEventStore();
    const failures: unknown[] = [];
    await handleCommand(store, 'Trainer-ash', trainerDecider, move(1, 1, now), {
      snapshots: {
        store: new InMemorySnapshotStore(),
        policy: () => {
          throw new Error('policy bug');
        },
        schemaVersion: 1,
      },
      onSnapshotError: (error) => failures.push(error),
    });
    expect(await store.readStream('Trainer-ash')).toHaveLength(1);
    expect(failures).toEqual([new Error('policy bug')]);
  });
});

describe('EventSourcedRepository and schema versions', () => {
  const OpenedV2 = messageType('Opened', z.object({ owner: z.string(), currency: z.string() }), {
    version: 2,
  });
  type OpenedEvent = DomainEventOf<typeof OpenedV2>;
  const opener: Decider<{ owner: string; currency: string }, OpenedEvent, { currency?: string }> = {
    initialState: () => ({}),
    decide: (command) => [OpenedV2.of(command)],
    evolve: (_state, event) => ({ currency: event.data.currency }),
  };

  it("writes an event made by MessageType.of in its type's version, also without a registry", async () => {
    // A store without a registry keeps versions as written: stamped 1, this v2 event would be
    // "upcast" on every read through the registry added later, its currency overwritten.
    const store = new InMemoryEventStore();
    await handleCommand(store, 'Account-1', opener, { owner: 'ash', currency: 'USD' });
    const [stored] = await store.readStream('Account-1');
    expect(stored!.metadata.schemaVersion).toBe(2);

    const registry = new SerializerRegistry()
      .register(OpenedV2)
      .upcaster(OpenedV2, 1, (data) => ({ ...(data as object), currency: 'EUR' }));
    const later = new InMemoryEventStore({ serializer: registry });
    await later.append('Account-1', [stored!], { expectedVersion: 'no-stream' });
    const loaded = await deciderRepository(opener, {
      eventStore: later,
      aggregateType: 'Account',
    }).load('Account-1');
    expect(loaded.state).toEqual({ currency: 'USD' });
  });

  it('compares, prints and serializes MessageType.of events as { type, data }', () => {
    const event = OpenedV2.of({ owner: 'ash', currency: 'USD' });
    expect(event).toEqual({ type: 'Opened', data: { owner: 'ash', currency: 'USD' } });
    expect(Object.keys(event)).toEqual(['type', 'data']);
    expect(JSON.parse(JSON.stringify(event))).toEqual(event);
  });
});

describe('EventSourcedRepository.load with a commandId, on a stream cut with no snapshot', () => {
  // The real in-memory store, counting the streamInfo calls a load and a command make.
  class CountingStore extends InMemoryEventStore {
    infoCalls = 0;
    override streamInfo(streamId: string): ReturnType<InMemoryEventStore['streamInfo']> {
      this.infoCalls += 1;
      return super.streamInfo(streamId);
    }
  }

  // Open (v1, v2), deposits 10 (v3) and 5 (v4), each with an id; retention keeps v4 alone.
  async function cutStream() {
    const store = new CountingStore();
    const handle = commandHandler(store, account, { aggregateType: 'Account' });
    await handle('acc-1', { type: 'Open', data: { owner: 'ada' } }, { commandId: 'open' });
    await handle('acc-1', { type: 'Deposit', data: { amount: 10 } }, { commandId: 'd10' }); // v3
    await handle('acc-1', { type: 'Deposit', data: { amount: 5 } }, { commandId: 'd5' }); // v4
    await store.applyRetention({ streamPrefix: 'acc-1', maxCount: 1 });
    const repository = deciderRepository(account, { eventStore: store, aggregateType: 'Account' });
    store.infoCalls = 0;
    return { store, repository, handle };
  }

  it('refuses the state folded from the events left, as a load without a commandId does', async () => {
    const { repository } = await cutStream();
    // v4 alone folds to an account never opened, with 5 (it is open, with 15).
    await expect(repository.load('acc-1', { commandId: 'd5' })).rejects.toMatchObject({
      name: 'StateNotRebuildableError',
      streamId: 'acc-1',
      firstVersion: 4,
    });
    // A command not among the events left may be among those removed.
    const refused = await repository.load('acc-1', { commandId: 'd10' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(CommandHistoryRemovedError);
    expect(refused).toMatchObject({ streamId: 'acc-1', commandId: 'd10', firstVersion: 4 });
    await expect(repository.load('acc-1')).rejects.toBeInstanceOf(StateNotRebuildableError);
  });

  it('asks the store once per command handled: the load checks, the handler does not again', async () => {
    const { store, handle } = await cutStream();
    await expect(
      handle('acc-1', { type: 'Deposit', data: { amount: 5 } }, { commandId: 'd5' }),
    ).rejects.toBeInstanceOf(StateNotRebuildableError);
    expect(store.infoCalls).toBe(1);
    await expect(
      handle('acc-1', { type: 'Deposit', data: { amount: 1 } }, { commandId: 'new' }),
    ).rejects.toBeInstanceOf(CommandHistoryRemovedError);
    expect(store.infoCalls).toBe(2);
    expect((await store.readStream('acc-1')).map((event) => event.version)).toEqual([4]);

    // A stream read from version 1: no call at all.
    await handle('acc-2', { type: 'Open', data: { owner: 'bo' } }, { commandId: 'open-2' });
    store.infoCalls = 0;
    await handle('acc-2', { type: 'Deposit', data: { amount: 1 } }, { commandId: 'd1' });
    expect(store.infoCalls).toBe(0);
  });
});
