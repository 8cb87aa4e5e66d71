import {
  DeferredError,
  InMemoryEventStore,
  InMemorySnapshotStore,
  MessageFactory,
  type Envelope,
} from '@causeway/cqrs-core';
import { contractsSerializer } from '@causeway/contracts';
import {
  InMemoryCommandStatusStore,
  InMemoryGroupMembers,
  InMemoryNotificationLog,
  InMemoryTrainerPositions,
  PositionNotifier,
  ServerClock,
  ServerClockUnsynchronisedError,
} from '@causeway/platform';
import { TrainerCommandHandler } from './trainer.command-handler';

const T0 = Date.parse('2026-11-21T10:00:00.000Z');
const factory = new MessageFactory();
const move = (action: 'start' | 'stop', at: number, trainerId = 'ash', dx = 1): Envelope =>
  factory.command(
    'MoveTrainerCommand',
    { trainerId, directionX: action === 'start' ? dx : 0, directionY: 0, action, timestamp: at },
    {
      aggregateId: trainerId,
      causedBy: null,
      metadata: { issuerId: trainerId, timestamp: new Date(at).toISOString() },
    },
  );

function setup() {
  const groups = new InMemoryGroupMembers();
  const positions = new InMemoryTrainerPositions();
  const notifications = new InMemoryNotificationLog();
  const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
  const errors: unknown[] = [];
  const handler = new TrainerCommandHandler({
    serverId: 'trainer-1',
    eventStore,
    snapshots: new InMemorySnapshotStore(),
    commandStatus: new InMemoryCommandStatusStore(),
    notifications,
    speed: 100,
    snapshotEvery: 50,
    eagerNotifications: {
      notifier: new PositionNotifier(groups, notifications, 'trainer-1'),
      onError: (e) => errors.push(e),
    },
    groupMembers: { groups, positions },
  });
  return { handler, groups, positions, eventStore, errors };
}

/** Another instance on the same store, without a cache or snapshots (one that died, say). */
function instance(
  eventStore: InMemoryEventStore,
  serverId: string,
  groupMembers?: { groups: InMemoryGroupMembers; positions: InMemoryTrainerPositions },
): TrainerCommandHandler {
  return new TrainerCommandHandler({
    serverId,
    eventStore,
    commandStatus: new InMemoryCommandStatusStore(),
    notifications: new InMemoryNotificationLog(),
    speed: 100,
    snapshotEvery: 0,
    ...(groupMembers && { groupMembers }),
  });
}

// A trainer's first move is written through to the positions read model (ADR 007, session 24):
// listed by GET /api/positions and `recovery` before projection-worker applies it.
describe('TrainerCommandHandler: first-move write-through', () => {
  it('writes a new trainer through also while the eager fast path is paused', async () => {
    const { handler, groups, positions, errors } = setup();
    // One failed eager read (a Redis hiccup) pauses the fast path for 30 s.
    jest.spyOn(groups, 'groupsOf').mockRejectedValueOnce(new Error('redis blip'));
    await handler.handle(move('start', T0, 'ash'));
    expect(errors).toHaveLength(1);
    // Another user's trainer is created meanwhile.
    await expect(handler.handle(move('start', T0 + 1, 'misty'))).resolves.toMatchObject({
      status: 'processed',
      version: 1,
    });
    // It should be listed (GET /api/positions, recovery) before projection-worker applies it.
    expect((await positions.list()).map((row) => row.trainerId)).toContain('misty');
  });
});

describe('TrainerCommandHandler: first-move write-through on redelivery', () => {
  it('a redelivered first move (the instance died after the append) is written through, as memberships are', async () => {
    const { handler, positions, eventStore } = setup();
    const first = move('start', T0, 'brock');
    // The first attempt appended and died before its write-through: same store, no read model write.
    const crashed = instance(eventStore, 'trainer-0');
    await crashed.handle(first);
    await expect(handler.handle(first)).resolves.toMatchObject({ status: 'processed', version: 1 });
    expect((await positions.list()).map((row) => row.trainerId)).toContain('brock');
  });
});

describe('TrainerCommandHandler: late stops', () => {
  it("a user's stop after the server clock is set back 5 s still stops the trainer", async () => {
    const { handler, eventStore } = setup();
    await handler.handle(move('start', T0 + 10_000));
    // Redis' clock is stepped back 5 s (NTP); ServerClock follows steps over 1 s; embedded uses
    // Date.now(). The user releases the key 1 s after pressing it.
    const outcome = await handler.handle(move('stop', T0 + 6_000));
    expect(outcome).toMatchObject({ status: 'processed' });
    const events = await eventStore.readStream('trainer-ash');
    expect((events.at(-1)!.data as { movement: { isMoving: boolean } }).movement.isMoving).toBe(
      false,
    );
  });
});

describe('TrainerCommandHandler: first-move write-through, edge cases', () => {
  it('never fails a redelivered first move over a failed read of event 1 (the row waits for projection-worker)', async () => {
    const { handler, eventStore } = setup();
    const first = move('start', T0, 'brock');
    const crashed = instance(eventStore, 'trainer-0');
    await crashed.handle(first);
    const read = eventStore.readStream.bind(eventStore);
    jest.spyOn(eventStore, 'readStream').mockImplementation(async (id, options) => {
      if (options?.limit === 1) throw new Error('mongo: read timed out');
      return read(id, options);
    });
    await expect(handler.handle(first)).resolves.toMatchObject({ status: 'processed', version: 1 });
  });

  it('writes the first move of a trainer whose stream was deleted and made again at its stored version', async () => {
    const { handler, eventStore } = setup();
    await handler.handle(move('start', T0, 'gary'));
    await handler.handle(move('stop', T0 + 1_000, 'gary'));
    await eventStore.deleteStream('trainer-gary', { mode: 'soft' });
    // Another instance (no cache), the same store: the stream goes on at version 3.
    const fresh = setup();
    const again = instance(eventStore, 'trainer-2', {
      groups: new InMemoryGroupMembers(),
      positions: fresh.positions,
    });
    await expect(again.handle(move('start', T0 + 5_000, 'gary'))).resolves.toMatchObject({
      status: 'processed',
      version: 3,
    });
    expect(await fresh.positions.list()).toEqual([
      expect.objectContaining({ trainerId: 'gary', version: 3 }),
    ]);
  });
});

// Session 30: a trainer-service whose first Redis TIME reading failed checked deadlines by its
// own clock (75 s ahead: 30 of 40 fresh moves rejected "expired").
describe('TrainerCommandHandler before the server clock has been read', () => {
  it('defers the command (redelivered later), records nothing, and handles it once the clock is read', async () => {
    let redisUp = false;
    const clock = new ServerClock({
      read: async () => {
        if (!redisUp) throw new Error('Connection is closed.');
        return Date.now();
      },
    });
    const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
    const commandStatus = new InMemoryCommandStatusStore();
    const handler = new TrainerCommandHandler({
      serverId: 'trainer-1',
      eventStore,
      snapshots: new InMemorySnapshotStore(),
      commandStatus,
      notifications: new InMemoryNotificationLog(),
      speed: 100,
      snapshotEvery: 50,
      now: () => new Date(clock.now()),
    });
    const command = move('start', Date.now());
    const error = await handler.handle(command).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeferredError);
    expect(error).toBeInstanceOf(ServerClockUnsynchronisedError);
    expect(await commandStatus.get(command.messageId)).toBeUndefined();
    expect(await eventStore.readAll()).toEqual([]);
    redisUp = true;
    expect(await clock.whenSynchronised(5_000)).toBe(true);
    await expect(handler.handle(command)).resolves.toMatchObject({ status: 'processed' });
  });
});
