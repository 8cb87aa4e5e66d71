import {
  DeferredError,
  type Envelope,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  MessageFactory,
  type StoredEvent,
} from '@causeway/cqrs-core';
import { contractsSerializer } from '@causeway/contracts';
import {
  InMemoryGroupMembers,
  InMemoryNotificationLog,
  InMemoryTrainerPositions,
} from '@causeway/platform';
import { ProjectionRunner } from './projection.runner';

const T0 = 1_800_000_000_000;
const factory = new MessageFactory();
const still = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };

function moved(trainerId: string, x: number, y: number, moving = false): Envelope {
  return factory.event('TrainerMovedEvent', {
    trainerId,
    position: { x, y },
    movement: moving
      ? { isMoving: true, direction: { x: 1, y: 0 }, speed: 100, startedAt: T0 }
      : still,
    timestamp: T0,
  });
}
const joined = (trainerId: string, groupId: string) =>
  factory.event('TrainerJoinedGroupEvent', { trainerId, groupId, timestamp: T0 });
const left = (trainerId: string, groupId: string) =>
  factory.event('TrainerLeftGroupEvent', { trainerId, groupId, timestamp: T0 });

function setup() {
  const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
  const positions = new InMemoryTrainerPositions();
  const groups = new InMemoryGroupMembers();
  const notifications = new InMemoryNotificationLog();
  const runner = new ProjectionRunner({
    serverId: 'projection-1',
    eventStore,
    positions,
    groups,
    notifications,
    checkpoints: new InMemoryCheckpointStore(),
    catchUpIntervalMs: 0,
  });
  /** Appends to the trainer's stream and returns the stored events, as the bus delivers them. */
  const append = async (trainerId: string, ...events: Envelope[]): Promise<StoredEvent[]> => {
    await eventStore.append(`trainer-${trainerId}`, events, { expectedVersion: 'any' });
    const stored = await eventStore.readStream(`trainer-${trainerId}`);
    return stored.slice(-events.length);
  };
  const logged = async () =>
    (await notifications.read(undefined, 1_000)).map((entry) => entry.notification);
  return { positions, groups, runner, append, logged };
}

describe('ProjectionRunner', () => {
  it('catches the read models up from the event store at start, without notifying', async () => {
    const { positions, groups, runner, append, logged } = setup();
    await append('ash', moved('ash', 1, 2), joined('ash', 'party'), moved('ash', 5, 6, true));
    await append('misty', moved('misty', 9, 9), joined('misty', 'party'), left('misty', 'party'));
    await runner.start();
    expect(runner.isCaughtUp).toBe(true);
    expect(await positions.get('ash')).toMatchObject({
      x: 5,
      y: 6,
      isMoving: true,
      dirX: 1,
      dirY: 0,
      speed: 100,
      startedAt: T0,
      version: 3,
    });
    expect(await groups.membersOf('party')).toEqual(['ash']);
    expect(await logged()).toEqual([]);
    await runner.stop();
  });

  it('defers live events until the first catch-up finished', async () => {
    const { runner, append } = setup();
    const [event] = await append('ash', moved('ash', 1, 1));
    await expect(runner.handle(event!)).rejects.toBeInstanceOf(DeferredError);
    await runner.start();
    await expect(runner.handle(event!)).resolves.toBeUndefined();
    await runner.stop();
  });

  it('broadcasts the position of a trainer in no group', async () => {
    const { positions, runner, append, logged } = setup();
    await runner.start();
    const [event] = await append('ash', moved('ash', 3, 4, true));
    await runner.handle(event!);
    expect(await positions.get('ash')).toMatchObject({ x: 3, y: 4, version: 1 });
    expect(await logged()).toEqual([
      {
        notificationId: `position:${event!.messageId}`,
        targetType: 'broadcast',
        targetIds: [],
        method: 'position.update',
        params: { trainerId: 'ash', x: 3, y: 4, isMoving: true, dirX: 1, dirY: 0 },
        serverId: 'projection-1',
      },
    ]);
    await runner.stop();
  });

  it('addresses the position of a trainer in groups to the groups, listing their members', async () => {
    const { runner, append, logged } = setup();
    await runner.start();
    for (const event of [
      ...(await append('ash', moved('ash', 0, 0), joined('ash', 'party'), joined('ash', 'gym'))),
      ...(await append('misty', moved('misty', 0, 0), joined('misty', 'party'))),
      ...(await append('brock', moved('brock', 0, 0), joined('brock', 'gym'))),
      ...(await append('gary', moved('gary', 0, 0), joined('gary', 'arena'))),
    ])
      await runner.handle(event);
    const [event] = await append('ash', moved('ash', 7, 8));
    await runner.handle(event!);
    const notifications = await logged();
    expect(notifications.at(-1)).toMatchObject({
      notificationId: `position:${event!.messageId}`,
      targetType: 'group',
      targetIds: ['gym', 'party'],
      recipients: ['ash', 'brock', 'misty'],
      params: { trainerId: 'ash', x: 7, y: 8 },
    });
    await runner.stop();
  });

  it('notifies a redelivered event again through the log, which keeps it once', async () => {
    const { runner, append, logged } = setup();
    await runner.start();
    const [event] = await append('ash', moved('ash', 1, 1));
    await runner.handle(event!);
    await runner.handle(event!);
    expect(await logged()).toHaveLength(1);
    await runner.stop();
  });

  it('does not notify history the bus replays after the catch-up applied it', async () => {
    const { runner, append, logged } = setup();
    const history = await append('ash', moved('ash', 1, 1), moved('ash', 2, 2));
    await runner.start();
    for (const event of history) await runner.handle(event);
    expect(await logged()).toEqual([]);
    const [live] = await append('ash', moved('ash', 3, 3));
    await runner.handle(live!);
    expect(await logged()).toHaveLength(1);
    await runner.stop();
  });

  it('still notifies an event whose read-model write got through before a crash', async () => {
    const { positions, runner, append, logged } = setup();
    const [event] = await append('ash', moved('ash', 1, 1));
    // The previous incarnation applied it to the read model, then died before appending.
    await positions.apply({
      trainerId: 'ash',
      x: 1,
      y: 1,
      isMoving: false,
      dirX: 0,
      dirY: 0,
      speed: 0,
      startedAt: 0,
      version: 1,
      updatedAt: T0,
    });
    await runner.start();
    await runner.handle(event!);
    expect((await logged()).map((n) => n.notificationId)).toEqual([`position:${event!.messageId}`]);
    await runner.stop();
  });
});
