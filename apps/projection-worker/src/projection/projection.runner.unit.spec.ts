import {
  DeferredError,
  type Envelope,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  MessageFactory,
  type StoredEvent,
} from '@causeway/cqrs-core';
import {
  contractsSerializer,
  type Notification,
  type TrainerMovedEvent,
} from '@causeway/contracts';
import {
  InMemoryGroupMembers,
  InMemoryNotificationLog,
  InMemoryTrainerPositions,
  PositionNotifier,
  positionRow,
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
/** `event` as if it had been appended `ms` ago. */
const aged = (event: Envelope, ms: number): Envelope => ({
  ...event,
  metadata: { ...event.metadata, timestamp: new Date(Date.now() - ms).toISOString() },
});
const DAYS_2 = 2 * 24 * 60 * 60 * 1000;
const joined = (trainerId: string, groupId: string) =>
  factory.event('TrainerJoinedGroupEvent', { trainerId, groupId, timestamp: T0 });
const left = (trainerId: string, groupId: string) =>
  factory.event('TrainerLeftGroupEvent', { trainerId, groupId, timestamp: T0 });

function setup(options: { horizonMs?: number } = {}) {
  const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
  const positions = new InMemoryTrainerPositions();
  const groups = new InMemoryGroupMembers();
  const notifications = new InMemoryNotificationLog();
  const checkpoints = new InMemoryCheckpointStore();
  /** A new incarnation of the worker over the same stores (the previous one was killed). */
  const restart = () =>
    new ProjectionRunner({
      serverId: 'projection-1',
      eventStore,
      positions,
      groups,
      notifications,
      checkpoints,
      catchUpIntervalMs: 0,
      ...(options.horizonMs !== undefined && { notifyHorizonMs: options.horizonMs }),
    });
  const runner = restart();
  /** Appends to the trainer's stream and returns the stored events, as the bus delivers them. */
  const append = async (trainerId: string, ...events: Envelope[]): Promise<StoredEvent[]> => {
    await eventStore.append(`trainer-${trainerId}`, events, { expectedVersion: 'any' });
    const stored = await eventStore.readStream(`trainer-${trainerId}`);
    return stored.slice(-events.length);
  };
  const logged = async () =>
    (await notifications.read(undefined, 1_000)).map((entry) => entry.notification);
  return { positions, groups, notifications, runner, restart, append, logged };
}

describe('ProjectionRunner', () => {
  it('runs the periodic catch-up on catchUpNow() and resolves once it applied what the bus missed', async () => {
    const { positions, runner, append } = setup(); // catchUpIntervalMs 0: no timer runs it
    await expect(runner.catchUpNow()).rejects.toThrow(
      'catchUpNow: start() has not caught the read models up yet',
    );
    await runner.start();
    await append('ash', moved('ash', 3, 4)); // never delivered live
    expect(await positions.get('ash')).toBeUndefined();
    await runner.catchUpNow();
    expect(await positions.get('ash')).toMatchObject({ x: 3, y: 4, version: 1 });
    await runner.stop();
    await expect(runner.catchUpNow()).resolves.toBeUndefined();
  });

  it('catches the read models up from the event store at start, without notifying moves older than the horizon', async () => {
    const { positions, groups, runner, append, logged } = setup();
    const old = (...events: Envelope[]) => events.map((event) => aged(event, DAYS_2));
    await append(
      'ash',
      ...old(moved('ash', 1, 2), joined('ash', 'party'), moved('ash', 5, 6, true)),
    );
    await append(
      'misty',
      ...old(moved('misty', 9, 9), joined('misty', 'party'), left('misty', 'party')),
    );
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
        params: {
          trainerId: 'ash',
          x: 3,
          y: 4,
          isMoving: true,
          dirX: 1,
          dirY: 0,
          speed: 100,
          startedAt: T0,
          version: 1,
        },
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

  it('does not notify again what the bus replays after the catch-up notified it', async () => {
    const { runner, append, logged } = setup();
    const history = await append('ash', moved('ash', 1, 1), moved('ash', 2, 2));
    await runner.start();
    expect(await logged()).toHaveLength(2);
    for (const event of history) await runner.handle(event);
    expect(await logged()).toHaveLength(2);
    const [live] = await append('ash', moved('ash', 3, 3));
    await runner.handle(live!);
    expect(await logged()).toHaveLength(3);
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

describe('ProjectionRunner at start, when the stores are not ready', () => {
  // A MongoDB user without the createIndexes right failed every start attempt with
  // "catch-up failed: not authorized …": read as the event data failing to project, not as the
  // stores' set-up (trainer-service says "stores not ready" for the same failure).
  it('tells onError that the stores are not ready, with the failure as its cause, and retries', async () => {
    const refused = new Error('not authorized on causeway to execute command { createIndexes }');
    const errors: unknown[] = [];
    let attempts = 0;
    const runner = new ProjectionRunner({
      serverId: 'projection-1',
      eventStore: new InMemoryEventStore({ serializer: contractsSerializer() }),
      positions: new InMemoryTrainerPositions(),
      groups: new InMemoryGroupMembers(),
      notifications: new InMemoryNotificationLog(),
      checkpoints: new InMemoryCheckpointStore(),
      catchUpIntervalMs: 0,
      ready: async () => {
        if (attempts++ === 0) throw refused;
      },
      onError: (error) => errors.push(error),
    });
    await runner.start();
    expect(runner.isCaughtUp).toBe(true);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe(
      'the stores are not ready: not authorized on causeway to execute command { createIndexes }',
    );
    expect((errors[0] as Error).cause).toBe(refused);
    await runner.stop();
  });
});

describe('ProjectionRunner after an outage (moves it has not notified)', () => {
  /**
   * ash and misty are in `party`; the worker ran, then went down. While it was down ash joined
   * `gym` and moved: trainer-service's eager path appended nothing (the read model lagged the
   * join), so those moves are nobody's but the restarted worker's to notify.
   */
  async function outage() {
    const env = setup();
    const { append, runner } = env;
    await runner.start();
    for (const event of [
      ...(await append('misty', joined('misty', 'party'), joined('misty', 'gym'))),
      ...(await append('ash', joined('ash', 'party'), moved('ash', 0, 0))),
    ])
      await runner.handle(event);
    await runner.stop();
    const whileDown = await append(
      'ash',
      joined('ash', 'gym'),
      moved('ash', 1, 0, true),
      moved('ash', 2, 0, true),
      moved('ash', 3, 0),
    );
    const restarted = env.restart();
    return { ...env, whileDown, restarted };
  }
  const positionsOf = async (logged: () => Promise<Notification[]>, trainerId: string) =>
    (await logged())
      .filter((n) => n.method === 'position.update' && n.params.trainerId === trainerId)
      .map((n) => n.params.x as number);

  it('notifies each move made while it was down once, in order, although its catch-up applied it', async () => {
    const { whileDown, restarted, logged } = await outage();
    await restarted.start();
    // The bus redelivers what it held while the worker was down.
    for (const event of whileDown) await restarted.handle(event);
    for (const event of whileDown) await restarted.handle(event);
    expect(await positionsOf(logged, 'ash')).toEqual([0, 1, 2, 3]);
    expect((await logged()).at(-1)).toMatchObject({
      targetType: 'group',
      targetIds: ['gym', 'party'],
      recipients: ['ash', 'misty'],
    });
    await restarted.stop();
  });

  it('notifies moves missed while the eager path is off even if the bus lost them', async () => {
    const { restarted, logged } = await outage();
    await restarted.start(); // the catch-up alone: no redelivery
    expect(await positionsOf(logged, 'ash')).toEqual([0, 1, 2, 3]);
    await restarted.stop();
  });

  it('never appends an older move of a trainer after a newer one the eager path appended', async () => {
    const { whileDown, restarted, logged, groups, notifications, append } = await outage();
    // The read model caught up with the join before the moves were notified (here: applied by
    // hand; in production the first catch-up applied it and live moves were held back), so the
    // eager path finds the audience it needs for ash's next move and tries it first.
    await groups.apply({ trainerId: 'ash', groupId: 'gym', action: 'join', version: 3 });
    const [newer] = await append('ash', moved('ash', 4, 0));
    const eager = new PositionNotifier(groups, notifications, 'trainer-1');
    const audience = await eager.audienceOf('ash', ['gym', 'party']);
    expect(audience).toBeDefined();
    await eager.notifyEarly(newer!.messageId, newer!.data as TrainerMovedEvent, audience!, {
      version: newer!.version,
      previous: newer!.version - 1,
    });
    await restarted.start();
    for (const event of [...whileDown, newer!]) await restarted.handle(event);
    expect(await positionsOf(logged, 'ash')).toEqual([0, 1, 2, 3, 4]);
    await restarted.stop();
  });

  it('keeps move order when moves held back during its catch-up are notified after the eager path resumed', async () => {
    const { whileDown, restarted, logged, groups, notifications, append } = await outage();
    await restarted.start(); // the catch-up applies the join: the read model matches again
    // Moves made during the catch-up, before the read model had the join: no eager append, and
    // the live path defers them (redelivered after the catch-up).
    const heldBack = await append('ash', moved('ash', 5, 0, true), moved('ash', 6, 0));
    // The next move finds the membership caught up: the eager path appends it first.
    const [newer] = await append('ash', moved('ash', 7, 0));
    const eager = new PositionNotifier(groups, notifications, 'trainer-1');
    const audience = await eager.audienceOf('ash', ['gym', 'party']);
    expect(audience).toBeDefined();
    await eager.notifyEarly(newer!.messageId, newer!.data as TrainerMovedEvent, audience!, {
      version: newer!.version,
      previous: newer!.version - 1,
    });
    for (const event of [...whileDown, ...heldBack, newer!]) await restarted.handle(event);
    const xs = await positionsOf(logged, 'ash');
    // Never back in time: each position.update of ash is newer than the one before.
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    expect(xs).toEqual([0, 1, 2, 3, 5, 6, 7]);
    await restarted.stop();
  });

  it('notifies in a rebuild (no checkpoint) only moves younger than the rebuild horizon', async () => {
    // A Redis that came back empty lost the checkpoint, the read models and the notification
    // log: the whole history is read again, and its clients had those moves long ago.
    const env = setup();
    await env.append('ash', aged(moved('ash', 1, 1), 10 * 60_000), aged(moved('ash', 2, 2), 5_000));
    await env.append('misty', aged(moved('misty', 7, 7), 10 * 60_000));
    await env.runner.start();
    expect(await positionsOf(env.logged, 'ash')).toEqual([2]);
    expect(await positionsOf(env.logged, 'misty')).toEqual([]);
    // The read models hold the whole history: clients read current positions there.
    expect(await env.positions.get('misty')).toMatchObject({ x: 7, y: 7 });
    await env.runner.stop();
  });

  it('still notifies, after a restart from its checkpoint, the minutes-old moves it missed', async () => {
    const env = setup();
    await env.append('ash', moved('ash', 0, 0));
    await env.runner.start();
    await env.runner.stop();
    await env.append('ash', aged(moved('ash', 1, 1), 10 * 60_000));
    const restarted = env.restart();
    await restarted.start();
    expect(await positionsOf(env.logged, 'ash')).toEqual([0, 1]);
    await restarted.stop();
  });

  it('does not notify moves older than the notification horizon', async () => {
    const env = setup({ horizonMs: 60_000 });
    const history = await env.append('ash', aged(moved('ash', 1, 1), 120_000), moved('ash', 2, 2));
    await env.runner.start();
    for (const event of history) await env.runner.handle(event);
    expect(await positionsOf(env.logged, 'ash')).toEqual([2]);
    await env.runner.stop();
  });

  it('notifies, in the periodic run after one that failed to, a move the bus lost', async () => {
    const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
    let away = 0;
    let refused = 0;
    // The notification log, away for `away` appends.
    const log = new InMemoryNotificationLog();
    const append = log.append.bind(log) as (...args: unknown[]) => Promise<string | undefined>;
    Object.assign(log, {
      append: async (...args: unknown[]) => {
        if (away > 0) {
          away--;
          refused++;
          throw new Error('notification log away');
        }
        return append(...args);
      },
    });
    const notifications = log;
    const runner = new ProjectionRunner({
      serverId: 'projection-1',
      eventStore,
      positions: new InMemoryTrainerPositions(),
      groups: new InMemoryGroupMembers(),
      notifications,
      checkpoints: new InMemoryCheckpointStore(),
      catchUpIntervalMs: 20,
    });
    await runner.start();
    // A move the bus never delivers: only the periodic catch-up reads it. Its first run applies
    // it and fails to notify it; the next one must notify it although it was applied already.
    away = 1;
    await eventStore.append('trainer-ash', [moved('ash', 7, 7)], { expectedVersion: 'any' });
    const xs = async () =>
      (await log.read(undefined, 1_000))
        .map((entry) => entry.notification)
        .filter((n) => n.method === 'position.update' && n.params.trainerId === 'ash')
        .map((n) => n.params.x as number);
    const deadline = Date.now() + 5_000;
    while ((await xs()).length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    await runner.stop();
    expect(refused).toBe(1);
    expect(await xs()).toEqual([7]);
  });

  it("notifies, in a periodic run, a trainer's first move trainer-service wrote through and the bus lost", async () => {
    const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
    const positions = new InMemoryTrainerPositions();
    const notifications = new InMemoryNotificationLog();
    let periodicRead!: () => void;
    const periodic = new Promise<void>((resolve) => (periodicRead = resolve));
    const runner = new ProjectionRunner({
      serverId: 'projection-1',
      eventStore,
      positions,
      groups: new InMemoryGroupMembers(),
      notifications,
      checkpoints: new InMemoryCheckpointStore(),
      catchUpIntervalMs: 20,
      onProgress: (progress) => progress.events > 0 && periodicRead(),
    });
    await runner.start();
    // trainer-service appends the trainer's first move and writes its row through (version 1),
    // then dies before its eager notification; the bus never delivers the event here.
    const event = moved('ash', 7, 7);
    await eventStore.append('trainer-ash', [event], { expectedVersion: 'any' });
    await positions.apply(positionRow(event.data as TrainerMovedEvent, 1));
    await periodic;
    await runner.stop();
    const logged = (await notifications.read(undefined, 1_000)).map((entry) => entry.notification);
    expect(logged.map((n) => n.notificationId)).toEqual([`position:${event.messageId}`]);
  });

  it('notifies, in a periodic run, a move whose live delivery applied it and failed to notify it', async () => {
    const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
    const notifications = new InMemoryNotificationLog();
    const append = notifications.append.bind(notifications) as (
      ...args: unknown[]
    ) => Promise<string | undefined>;
    let away = false;
    Object.assign(notifications, {
      append: (...args: unknown[]) =>
        away ? Promise.reject(new Error('notification log away')) : append(...args),
    });
    let periodicRead!: () => void;
    const periodic = new Promise<void>((resolve) => (periodicRead = resolve));
    let started = false;
    const runner = new ProjectionRunner({
      serverId: 'projection-1',
      eventStore,
      positions: new InMemoryTrainerPositions(),
      groups: new InMemoryGroupMembers(),
      notifications,
      checkpoints: new InMemoryCheckpointStore(),
      catchUpIntervalMs: 20,
      onProgress: (progress) => started && progress.events > 0 && periodicRead(),
    });
    await runner.start();
    started = true;
    await eventStore.append('trainer-ash', [moved('ash', 0, 0)], { expectedVersion: 'any' });
    const [event] = await eventStore.readStream('trainer-ash');
    // Every delivery applies it and fails to notify it: the bus dead-letters it.
    away = true;
    await expect(runner.handle(event!)).rejects.toThrow('notification log away');
    away = false;
    await periodic;
    await runner.stop();
    const logged = (await notifications.read(undefined, 1_000)).map((entry) => entry.notification);
    expect(logged.map((n) => n.notificationId)).toEqual([`position:${event!.messageId}`]);
  });
});
