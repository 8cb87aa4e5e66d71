import { z } from 'zod';
import {
  type Envelope,
  type EventStore,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  JsonSerializer,
  MessageFactory,
  type MessageSerializer,
  type ReadAllOptions,
} from '@causeway/cqrs-core';
import { contractsSerializer } from '@causeway/contracts';
import { InMemoryGroupMembers, InMemoryTrainerPositions } from '@causeway/platform';
import {
  type CatchUpProgress,
  ReadModelsCatchUp,
  type ReadModelsCatchUpOptions,
} from './read-models.catch-up';
import { ReadModelsProjector } from './read-models.projector';

const factory = new MessageFactory();
const still = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };
const moved = (trainerId: string, x: number) =>
  factory.event('TrainerMovedEvent', {
    trainerId,
    position: { x, y: 0 },
    movement: still,
    timestamp: 1_800_000_000_000,
  });

/** A catch-up named 'test' over `eventStore`, into in-memory read models. */
function catchUpOf(
  eventStore: EventStore,
  options: Partial<ReadModelsCatchUpOptions> & { positions?: InMemoryTrainerPositions } = {},
): ReadModelsCatchUp {
  const { positions = new InMemoryTrainerPositions(), ...rest } = options;
  return new ReadModelsCatchUp({
    eventStore,
    checkpoints: new InMemoryCheckpointStore(),
    projector: new ReadModelsProjector(positions, new InMemoryGroupMembers()),
    name: 'test',
    ...rest,
  });
}

describe('ReadModelsCatchUp', () => {
  it('stops at the first page that reaches the end of the log, and the next run takes what came meanwhile', async () => {
    const reads: number[] = [];
    class CountingStore extends InMemoryEventStore {
      override async readAllPage(options?: ReadAllOptions) {
        const page = await super.readAllPage(options);
        reads.push(page.events.length);
        // Under a steady load, each read finds a new event appended while it ran.
        await this.append('trainer-late', [moved('late', reads.length)], {
          expectedVersion: 'any',
        });
        return page;
      }
    }
    const eventStore = new CountingStore({ serializer: contractsSerializer() });
    for (let x = 1; x <= 5; x++)
      await eventStore.append('trainer-ash', [moved('ash', x)], { expectedVersion: 'any' });
    const positions = new InMemoryTrainerPositions();
    const catchUp = catchUpOf(eventStore, { positions, batchSize: 2 });
    // 5 events in pages of 2, one more arriving after each read … until a page reaches the end
    // of the log. It ends although every read finds something new.
    const total = await catchUp.run();
    expect(reads.length).toBeGreaterThan(2);
    expect(reads.every((n) => n <= 2)).toBe(true);
    expect(total).toBe(reads.reduce((sum, n) => sum + n, 0));
    expect(await positions.get('ash')).toMatchObject({ x: 5, version: 5 });
    await catchUp.run();
    expect((await positions.get('late'))?.version).toBeGreaterThan(1);
  });

  it('never makes a former member a member again while it rebuilds: the leaves go first', async () => {
    const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
    const change = (type: 'TrainerJoinedGroupEvent' | 'TrainerLeftGroupEvent', trainerId: string) =>
      factory.event(type, { trainerId, groupId: 'party', timestamp: 1_800_000_000_000 });
    const append = (trainerId: string, ...events: Envelope[]) =>
      eventStore.append(`trainer-${trainerId}`, events, { expectedVersion: 'any' });
    // bob joined, alice joined, bob left and came back, then left for good; misty stays.
    await append('bob', moved('bob', 1), change('TrainerJoinedGroupEvent', 'bob'));
    await append('alice', moved('alice', 1), change('TrainerJoinedGroupEvent', 'alice'));
    await append('bob', change('TrainerLeftGroupEvent', 'bob'));
    await append('bob', change('TrainerJoinedGroupEvent', 'bob'));
    await append('misty', moved('misty', 1), change('TrainerJoinedGroupEvent', 'misty'));
    await append('bob', change('TrainerLeftGroupEvent', 'bob'), moved('bob', 2));
    await append('alice', change('TrainerLeftGroupEvent', 'alice'));
    await append('alice', change('TrainerJoinedGroupEvent', 'alice'));
    const groups = new InMemoryGroupMembers();
    const catchUp = catchUpOf(eventStore, {
      projector: new ReadModelsProjector(new InMemoryTrainerPositions(), groups),
      batchSize: 2,
    });
    const seen: string[][] = [];
    await catchUp.run(async () => {
      seen.push(await groups.membersOf('party'));
    });
    expect(seen.length).toBeGreaterThan(10);
    // Every state a reader could meet during the rebuild: bob never; alice from her last join.
    for (const members of seen) expect(members).not.toContain('bob');
    expect(seen.at(-1)).toEqual(['alice', 'misty']);
    expect(await groups.membersOf('party')).toEqual(['alice', 'misty']);
  });

  it('moves its checkpoint past events it does not project, instead of reading them again', async () => {
    const eventStore = new InMemoryEventStore({
      serializer: contractsSerializer().register('SomethingElse', z.object({ n: z.number() })),
    });
    const checkpoints = new InMemoryCheckpointStore();
    await eventStore.append('trainer-ash', [moved('ash', 1)], { expectedVersion: 'any' });
    // Events of a type the read models ignore, appended after the last projected one.
    for (let n = 0; n < 20; n++)
      await eventStore.append(
        'other',
        [factory.event('SomethingElse', { n }, { aggregateId: 'other' })],
        { expectedVersion: 'any' },
      );
    const catchUp = catchUpOf(eventStore, { checkpoints });
    expect(await catchUp.run()).toBe(1);
    const head = (await eventStore.readAll()).at(-1)!.position;
    expect(await checkpoints.load('test')).toBe(head);
  });

  it('reports its progress after each page it checkpointed, and whether it rebuilds', async () => {
    const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
    for (let x = 1; x <= 5; x++)
      await eventStore.append('trainer-ash', [moved('ash', x)], { expectedVersion: 'any' });
    const checkpoints = new InMemoryCheckpointStore();
    const reports: CatchUpProgress[] = [];
    const catchUp = catchUpOf(eventStore, {
      checkpoints,
      batchSize: 2,
      onProgress: (progress) => reports.push(progress),
    });
    const positions = (await eventStore.readAll()).map((event) => event.position);
    // No checkpoint: a rebuild, in pages of 2.
    const began = Date.now();
    await catchUp.run();
    const ended = Date.now();
    // When the run began: one time for all its reports, before its first page was read.
    const startedAt = reports[0]!.startedAt;
    expect(startedAt).toBeGreaterThanOrEqual(began);
    expect(startedAt).toBeLessThanOrEqual(ended);
    expect(reports).toEqual([
      { events: 2, position: positions[1], run: 1, startedAt, rebuilding: true, caughtUp: false },
      { events: 4, position: positions[3], run: 1, startedAt, rebuilding: true, caughtUp: false },
      {
        events: 5,
        position: await checkpoints.load('test'),
        run: 1,
        startedAt,
        rebuilding: true,
        caughtUp: true,
      },
    ]);
    // From a checkpoint: not a rebuild.
    reports.length = 0;
    await eventStore.append('trainer-ash', [moved('ash', 6)], { expectedVersion: 'any' });
    await catchUp.run();
    expect(reports).toEqual([
      {
        events: 1,
        position: await checkpoints.load('test'),
        run: 2,
        startedAt: expect.any(Number),
        rebuilding: false,
        caughtUp: true,
      },
    ]);
  });

  it('reports no rebuild of an empty log, run after run, and marks a rebuild with its first checkpoint', async () => {
    const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
    const writes: string[] = [];
    class WatchedCheckpoints extends InMemoryCheckpointStore {
      override async save(name: string, position: number) {
        writes.push(`${name}=${position}`);
        await super.save(name, position);
      }
      override async reset(name: string) {
        writes.push(`${name} reset`);
        await super.reset(name);
      }
    }
    const checkpoints = new WatchedCheckpoints();
    const reports: CatchUpProgress[] = [];
    const catchUp = catchUpOf(eventStore, {
      checkpoints,
      onProgress: (progress) => reports.push(progress),
    });
    // A new deployment: the log is empty. The periodic runs found "a rebuild" each time: a
    // "rebuilt the read models" line every 30 s, and the mark set and reset.
    await catchUp.run();
    await catchUp.run();
    expect(reports.map(({ rebuilding, caughtUp }) => ({ rebuilding, caughtUp }))).toEqual([
      { rebuilding: false, caughtUp: true },
      { rebuilding: false, caughtUp: true },
    ]);
    expect(writes).toEqual([]);
    // The first event: the read models are built from it, a rebuild (no checkpoint), marked
    // before its first checkpoint is saved.
    await eventStore.append('trainer-ash', [moved('ash', 1)], { expectedVersion: 'any' });
    const heard: boolean[] = [];
    await catchUp.run((_event, _applied, rebuilding) => {
      heard.push(rebuilding);
    });
    expect(heard).toEqual([true]);
    expect(reports.at(-1)).toMatchObject({ rebuilding: true, caughtUp: true });
    const position = await checkpoints.load('test');
    expect(writes).toEqual(['test.rebuilding=1', `test=${position}`, 'test.rebuilding reset']);
  });

  it("takes no other instance's run over an empty log for an unfinished rebuild (a false loss)", async () => {
    let gate: Promise<void> | undefined;
    let reading = () => {};
    class GatedStore extends InMemoryEventStore {
      override async readAllPage(options?: ReadAllOptions) {
        if (gate) {
          reading();
          await gate;
        }
        return super.readAllPage(options);
      }
    }
    const eventStore = new GatedStore({ serializer: contractsSerializer() });
    // Two instances over one Redis: the checkpoint (and the mark) shared.
    const checkpoints = new InMemoryCheckpointStore();
    const lost: unknown[] = [];
    const a = catchUpOf(eventStore, { checkpoints });
    const b = catchUpOf(eventStore, { checkpoints, onLost: (loss) => lost.push(loss) });
    await b.run(); // B's first run; its periodic runs come next
    // A's periodic run is reading the empty log when B's begins.
    let open = () => {};
    gate = new Promise<void>((resolve) => (open = resolve));
    const aRead = new Promise<void>((resolve) => (reading = resolve));
    const aRun = a.run();
    await aRead;
    gate = undefined;
    await b.run();
    open();
    await aRun;
    expect(lost).toEqual([]);
  });

  it('goes on rebuilding after a rebuild that failed part-way, until a run catches up', async () => {
    const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
    for (let x = 1; x <= 5; x++)
      await eventStore.append('trainer-ash', [moved('ash', x)], { expectedVersion: 'any' });
    const checkpoints = new InMemoryCheckpointStore();
    const catchUp = catchUpOf(eventStore, { checkpoints, batchSize: 2 });
    const heard: { x: number; rebuilding: boolean }[] = [];
    const listen =
      (failAt?: number) => (event: { data: unknown }, _: boolean, rebuilding: boolean) => {
        const x = (event.data as { position: { x: number } }).position.x;
        if (x === failAt) throw new Error('notification log away');
        heard.push({ x, rebuilding });
      };
    // No checkpoint: a rebuild; it fails on the third event, the first page saved.
    await expect(catchUp.run(listen(3))).rejects.toThrow('notification log away');
    expect(await checkpoints.load('test')).toBeGreaterThan(0);
    // The next run starts from that checkpoint, still a rebuild (the rebuild's notify horizon).
    heard.length = 0;
    await catchUp.run(listen());
    expect(heard).toEqual([
      { x: 3, rebuilding: true },
      { x: 4, rebuilding: true },
      { x: 5, rebuilding: true },
    ]);
    // Caught up: what comes next is live history, not a rebuild.
    heard.length = 0;
    await eventStore.append('trainer-ash', [moved('ash', 6)], { expectedVersion: 'any' });
    await catchUp.run(listen());
    expect(heard).toEqual([{ x: 6, rebuilding: false }]);
  });

  it('names the event it failed to apply or notify: type, position, stream and version', async () => {
    const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
    await eventStore.append('trainer-ash', [moved('ash', 1)], { expectedVersion: 'any' });
    await eventStore.append('trainer-misty', [moved('misty', 1), moved('misty', 2)], {
      expectedVersion: 'any',
    });
    const { events } = await eventStore.readAllPage();
    const failing = events[2]!;
    // A read model whose store refuses the write (a Redis away, a MongoDB validation error).
    class RefusingPositions extends InMemoryTrainerPositions {
      override async apply(row: Parameters<InMemoryTrainerPositions['apply']>[0]) {
        if (row.trainerId === 'misty' && row.version === 2) throw new Error('connection is closed');
        return super.apply(row);
      }
    }
    const catchUp = catchUpOf(eventStore, { positions: new RefusingPositions() });
    const error = (await catchUp.run().catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(
      `applying TrainerMovedEvent at position ${failing.position} (stream trainer-misty, ` +
        `version 2) failed: connection is closed`,
    );
    expect((error.cause as Error).message).toBe('connection is closed');
    // The notification of a move (onEvent) is named the same way.
    const other = catchUpOf(eventStore);
    const notifying = (await other
      .run((event) => {
        if (event.position === failing.position) throw new Error('notification log away');
      })
      .catch((e: unknown) => e)) as Error;
    expect(notifying.message).toBe(
      `notifying TrainerMovedEvent at position ${failing.position} (stream trainer-misty, ` +
        `version 2) failed: notification log away`,
    );
  });

  it('finishes as a rebuild one a previous process began and died part-way through', async () => {
    const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
    const change = (type: 'TrainerJoinedGroupEvent' | 'TrainerLeftGroupEvent') =>
      factory.event(type, { trainerId: 'ash', groupId: 'party', timestamp: 1_800_000_000_000 });
    // ash moves, joins the party, moves, leaves it for good, moves.
    for (const event of [
      moved('ash', 1),
      moved('ash', 2),
      change('TrainerJoinedGroupEvent'),
      moved('ash', 3),
      change('TrainerLeftGroupEvent'),
      moved('ash', 4),
    ])
      await eventStore.append('trainer-ash', [event], { expectedVersion: 'any' });
    // The checkpoint store outlives the process (Redis); the read models live beside it.
    const checkpoints = new InMemoryCheckpointStore();
    const groups = new InMemoryGroupMembers();
    const processOf = () =>
      new ReadModelsCatchUp({
        eventStore,
        checkpoints,
        projector: new ReadModelsProjector(new InMemoryTrainerPositions(), groups),
        name: 'test',
        batchSize: 1,
      });
    type Heard = { x: number; rebuilding: boolean; member: boolean };
    const listen =
      (heard: Heard[], dying?: AbortController) =>
      async (event: Envelope, _: boolean, rebuilding: boolean) => {
        if (event.type !== 'TrainerMovedEvent') return;
        const x = (event.data as { position: { x: number } }).position.x;
        heard.push({ x, rebuilding, member: (await groups.membersOf('party')).includes('ash') });
        // The process dies once its second page was read.
        if (heard.length === 2) dying?.abort();
      };
    const dying = new AbortController();
    const first: Heard[] = [];
    await processOf().run(listen(first, dying), dying.signal);
    expect(first.map((h) => h.x)).toEqual([1, 2]);
    expect(await checkpoints.load('test')).toBeGreaterThan(0);
    // The next process starts from that checkpoint and knows it rebuilds: the rebuild's notify
    // horizon for every move (not the day an ordinary run notifies). ash is never a member again
    // (the leaves the first process applied first are kept in the read models).
    const second: Heard[] = [];
    await processOf().run(listen(second));
    expect(second).toEqual([
      { x: 3, rebuilding: true, member: false },
      { x: 4, rebuilding: true, member: false },
    ]);
    // Caught up: the mark is gone, and the process after it runs an ordinary catch-up.
    await eventStore.append('trainer-ash', [moved('ash', 5)], { expectedVersion: 'any' });
    const third: Heard[] = [];
    await processOf().run(listen(third));
    expect(third).toEqual([{ x: 5, rebuilding: false, member: false }]);
  });

  describe('an event the store cannot decode', () => {
    // A producer that skipped the schema wrote the store; the catch-up reads it with the schema.
    const schema = contractsSerializer();
    const lax = new JsonSerializer();
    const serializer: MessageSerializer = {
      serialize: (envelope) => lax.serialize(envelope),
      deserialize: (serialized) => schema.deserialize(serialized),
      has: (type) => schema.has(type),
      namesOf: (type) => schema.namesOf(type),
    };
    const broken = factory.event('TrainerMovedEvent', {
      trainerId: 'gary',
      movement: still,
      timestamp: 1_800_000_000_000,
    } as never);

    async function storeWithBrokenEvent() {
      const eventStore = new InMemoryEventStore({ serializer });
      for (let x = 1; x <= 3; x++)
        await eventStore.append('trainer-ash', [moved('ash', x)], { expectedVersion: 'any' });
      await eventStore.append('trainer-gary', [broken], { expectedVersion: 'any' });
      for (let x = 1; x <= 2; x++)
        await eventStore.append('trainer-misty', [moved('misty', x)], { expectedVersion: 'any' });
      return eventStore;
    }

    it('applies the events before it, fails the runs, then gives up on it and goes on', async () => {
      const eventStore = await storeWithBrokenEvent();
      const brokenAt = (await eventStore.readStream('trainer-gary').catch((e) => e)).position;
      const positions = new InMemoryTrainerPositions();
      const checkpoints = new InMemoryCheckpointStore();
      const skipped: unknown[] = [];
      const catchUp = catchUpOf(eventStore, {
        checkpoints,
        positions,
        batchSize: 100,
        maxAttempts: 3,
        onSkipped: (event) => skipped.push(event),
      });
      await expect(catchUp.run()).rejects.toThrow(/position Invalid input.*stream trainer-gary/);
      // The page's events before the broken one are applied, and the checkpoint stops before it.
      expect(await positions.get('ash')).toMatchObject({ x: 3, version: 3 });
      expect(await checkpoints.load('test')).toBeLessThan(brokenAt);
      for (let run = 2; run <= 3; run++)
        await expect(catchUp.run()).rejects.toThrow(/stream trainer-gary/);
      expect(await positions.get('misty')).toBeUndefined();
      expect(skipped).toEqual([]);
      // Three runs failed on it: the fourth gives up on it, the events after it reach the read
      // models.
      expect(await catchUp.run()).toBe(2);
      expect(await positions.get('misty')).toMatchObject({ x: 2, version: 2 });
      expect(await positions.get('gary')).toBeUndefined();
      expect(skipped).toEqual([{ position: brokenAt, streamId: 'trainer-gary', version: 1 }]);
      expect(await checkpoints.load('test')).toBeGreaterThan(brokenAt);
    });

    it('never gives up on an event because of a failure that names none (the store was down)', async () => {
      let down = true;
      class FlakyStore extends InMemoryEventStore {
        override async readAllPage(options?: ReadAllOptions) {
          if (down) throw new Error('connection refused');
          return super.readAllPage(options);
        }
      }
      const eventStore = new FlakyStore({ serializer: contractsSerializer() });
      await eventStore.append('trainer-ash', [moved('ash', 1)], { expectedVersion: 'any' });
      const positions = new InMemoryTrainerPositions();
      const skipped: unknown[] = [];
      const catchUp = catchUpOf(eventStore, {
        positions,
        maxAttempts: 1,
        onSkipped: (event) => skipped.push(event),
      });
      for (let run = 0; run < 3; run++)
        await expect(catchUp.run()).rejects.toThrow('connection refused');
      down = false;
      expect(await catchUp.run()).toBe(1);
      expect(await positions.get('ash')).toMatchObject({ x: 1 });
      expect(skipped).toEqual([]);
    });

    it('reports no skip when a shutdown cuts its search for the failing event short', async () => {
      const stop = new AbortController();
      let reads = 0;
      class StoppingStore extends InMemoryEventStore {
        override async readAllPage(options?: ReadAllOptions) {
          if (++reads === 2) stop.abort(new Error('shutdown'));
          return super.readAllPage(options);
        }
      }
      const eventStore = new StoppingStore({ serializer });
      await eventStore.append('trainer-gary', [broken], { expectedVersion: 'any' });
      const checkpoints = new InMemoryCheckpointStore();
      const skipped: unknown[] = [];
      const catchUp = catchUpOf(eventStore, {
        checkpoints,
        maxAttempts: 1,
        onSkipped: (event) => skipped.push(event),
      });
      await catchUp.run(undefined, stop.signal);
      await new Promise((resolve) => setTimeout(resolve, 20)); // the read left behind ends
      expect(skipped).toEqual([]);
      expect(await checkpoints.load('test')).toBe(0);
    });
  });

  it('does not save over a checkpoint lost during its read when a shutdown stops the page', async () => {
    const checkpoints = new InMemoryCheckpointStore();
    let loseCheckpoint = false;
    class LosingStore extends InMemoryEventStore {
      override async readAllPage(options?: ReadAllOptions) {
        const page = await super.readAllPage(options);
        if (loseCheckpoint) {
          loseCheckpoint = false;
          await checkpoints.reset('test'); // Redis came back empty during the read
        }
        return page;
      }
    }
    const eventStore = new LosingStore({ serializer: contractsSerializer() });
    await eventStore.append('trainer-ash', [moved('ash', 1)], { expectedVersion: 'any' });
    const catchUp = catchUpOf(eventStore, { checkpoints });
    await catchUp.run();
    expect(await checkpoints.load('test')).toBeGreaterThan(0);
    for (let x = 2; x <= 3; x++)
      await eventStore.append('trainer-ash', [moved('ash', x)], { expectedVersion: 'any' });
    loseCheckpoint = true;
    const stop = new AbortController();
    // SIGTERM while the page is applied: after its first event.
    await catchUp.run(() => stop.abort(), stop.signal);
    // Still lost: the next start sees no checkpoint and rebuilds the read models.
    expect(await checkpoints.load('test')).toBe(0);
  });
});
