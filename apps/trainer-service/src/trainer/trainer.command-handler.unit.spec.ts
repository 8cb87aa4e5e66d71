import { randomUUID } from 'node:crypto';
import {
  CommandExpiredError,
  DeferredError,
  type Envelope,
  InMemoryEventStore,
  InMemorySnapshotStore,
  MessageFactory,
  withDeadline,
} from '@causeway/cqrs-core';
import { contractsSerializer, type TrainerMovedEvent } from '@causeway/contracts';
import {
  InMemoryCommandStatusStore,
  InMemoryGroupMembers,
  InMemoryNotificationLog,
  InMemoryTrainerPositions,
  type NotificationLog,
  PositionNotifier,
} from '@causeway/platform';
import { TrainerCommandHandler } from './trainer.command-handler';
import { uuidV5 } from './command-event-ids';

const T0 = Date.parse('2026-11-21T10:00:00.000Z');
const factory = new MessageFactory();

function moveCommand(
  action: 'start' | 'stop',
  dx = 1,
  dy = 0,
  options: { at?: number; trainerId?: string; issuerId?: string } = {},
): Envelope {
  const trainerId = options.trainerId ?? 'ash';
  return factory.command(
    'MoveTrainerCommand',
    { trainerId, directionX: dx, directionY: dy, action, timestamp: options.at ?? T0 },
    {
      aggregateId: trainerId,
      causedBy: null,
      metadata: {
        issuerId: options.issuerId ?? trainerId,
        timestamp: new Date(options.at ?? T0).toISOString(),
      },
    },
  );
}

function groupCommand(action: 'join' | 'leave', groupId: string, trainerId = 'ash'): Envelope {
  return factory.command(
    'ChangeGroupCommand',
    { trainerId, groupId, action, timestamp: T0 },
    { aggregateId: trainerId, causedBy: null, metadata: { issuerId: trainerId } },
  );
}

function setup(
  options: {
    snapshotEvery?: number;
    ready?: Promise<void>;
    eager?: {
      groups: InMemoryGroupMembers;
      onError?: (error: unknown) => void;
      log?: NotificationLog;
      /** Failed write-throughs of memberships. */
      onGroupsError?: (error: unknown) => void;
      groupsTimeoutMs?: number;
      positions?: InMemoryTrainerPositions;
    };
  } = {},
) {
  const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
  const commandStatus = new InMemoryCommandStatusStore();
  const notifications = new InMemoryNotificationLog();
  const handler = new TrainerCommandHandler({
    ...(options.eager && {
      eagerNotifications: {
        notifier: new PositionNotifier(
          options.eager.groups,
          options.eager.log ?? notifications,
          'trainer-1',
        ),
        onError: options.eager.onError,
      },
      groupMembers: {
        groups: options.eager.groups,
        positions: options.eager.positions,
        onError: options.eager.onGroupsError,
        timeoutMs: options.eager.groupsTimeoutMs,
      },
    }),
    serverId: 'trainer-1',
    eventStore,
    snapshots: new InMemorySnapshotStore(),
    commandStatus,
    notifications,
    speed: 100,
    snapshotEvery: options.snapshotEvery ?? 50,
    conflictRetry: { maxAttempts: 50, initialDelayMs: 1, maxDelayMs: 5 },
    ready: options.ready,
  });
  return { eventStore, commandStatus, notifications, handler };
}

/** Another trainer-service instance on the same stores as setup()'s (no snapshots). */
function secondInstance(
  stores: Pick<
    ConstructorParameters<typeof TrainerCommandHandler>[0],
    'eventStore' | 'commandStatus' | 'notifications'
  >,
  options: Partial<ConstructorParameters<typeof TrainerCommandHandler>[0]> = {},
): TrainerCommandHandler {
  return new TrainerCommandHandler({
    serverId: 'trainer-2',
    ...stores,
    speed: 100,
    snapshotEvery: 0,
    ...options,
  });
}

describe('TrainerCommandHandler', () => {
  it('keeps saved trainers in memory, and a stale one (another instance appended) costs a retry, not an update', async () => {
    const { eventStore, commandStatus, notifications, handler: first } = setup();
    const second = secondInstance(
      { eventStore, commandStatus, notifications },
      { conflictRetry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 5 } },
    );
    const reads = jest.spyOn(eventStore, 'readStream');
    await first.handle(moveCommand('start', 1, 0, { at: T0 }));
    const readsAfterFirst = reads.mock.calls.length;
    // The same instance again: served from memory, the stream is not read.
    await first.handle(moveCommand('stop', 0, 0, { at: T0 + 1_000 }));
    expect(reads.mock.calls.length).toBe(readsAfterFirst);
    // Another instance moves the trainer meanwhile; the first one's memory is now stale.
    await second.handle(moveCommand('start', 0, 1, { at: T0 + 2_000 }));
    await expect(first.handle(moveCommand('stop', 0, 0, { at: T0 + 3_000 }))).resolves.toEqual({
      status: 'processed',
      version: 4,
    });
    const events = await eventStore.readStream('trainer-ash');
    expect(events.map((e) => e.version)).toEqual([1, 2, 3, 4]);
    // Nothing was lost: the last stop advanced from the second instance's start (0,1) for 1 s.
    expect(events[3]!.data).toMatchObject({ position: { x: 100, y: 100 } });
    reads.mockRestore();
  });

  it('keeps a trainer it loaded when the command then expires, so the next command skips the load', async () => {
    // After an outage of the event store, a backlog of commands whose loads each outlived their
    // deadline was never applied again (degraded-network review, session 30).
    const { eventStore, commandStatus, notifications, handler: other } = setup();
    // The trainer's stream was written elsewhere: this instance has to load it.
    await other.handle(moveCommand('start', 1, 0, { at: T0 }));
    let clock = T0 + 1_000;
    const handler = secondInstance(
      { eventStore, commandStatus, notifications },
      { now: () => new Date(clock) },
    );
    const readStream = eventStore.readStream.bind(eventStore);
    let reads = 0;
    // A busy event store: each read takes 5 s.
    const slow = jest.spyOn(eventStore, 'readStream').mockImplementation(async (...args) => {
      reads++;
      const events = await readStream(...args);
      clock += 5_000;
      return events;
    });
    try {
      const late = withDeadline(moveCommand('stop', 0, 0, { at: clock }), 2_000);
      await expect(handler.handle(late)).rejects.toBeInstanceOf(CommandExpiredError);
      const readsForLate = reads;
      expect(readsForLate).toBeGreaterThan(0);
      // The next command of the trainer, within its deadline: decided on what that load read.
      const next = withDeadline(moveCommand('stop', 0, 0, { at: clock }), 2_000);
      await expect(handler.handle(next)).resolves.toEqual({ status: 'processed', version: 2 });
      expect(reads).toBe(readsForLate);
    } finally {
      slow.mockRestore();
    }
    const events = await eventStore.readStream('trainer-ash');
    expect(events.map((e) => e.version)).toEqual([1, 2]);
    // The stop advanced from the start for the 6 s between the two accepted commands.
    expect(events[1]!.data).toMatchObject({ position: { x: 600, y: 0 } });
  });

  it('appends the decided event, records "processed" with the version and tells the issuer', async () => {
    const { eventStore, commandStatus, notifications, handler } = setup();
    const command = moveCommand('start', 3, 4);
    await expect(handler.handle(command)).resolves.toEqual({ status: 'processed', version: 1 });

    const [event] = await eventStore.readStream('trainer-ash');
    expect(event).toMatchObject({
      messageId: uuidV5(`${command.messageId}:0`),
      type: 'TrainerMovedEvent',
      aggregateId: 'trainer-ash',
      aggregateType: 'Trainer',
      version: 1,
      data: {
        trainerId: 'ash',
        position: { x: 0, y: 0 },
        movement: { isMoving: true, direction: { x: 0.6, y: 0.8 }, speed: 100, startedAt: T0 },
        timestamp: T0,
      },
      metadata: { causationId: command.messageId, issuerId: 'ash' },
    });
    expect(await commandStatus.get(command.messageId)).toMatchObject({
      status: 'processed',
      version: 1,
      type: 'MoveTrainerCommand',
      issuerId: 'ash',
    });
    const logged = await notifications.read(undefined, 10);
    expect(logged.map((entry) => entry.notification)).toEqual([
      {
        notificationId: `command-result:${command.messageId}`,
        targetType: 'user',
        targetIds: ['ash'],
        method: 'command.result',
        params: { commandId: command.messageId, status: 'processed', version: 1 },
        serverId: 'trainer-1',
      },
    ]);
  });

  it('advances the position by the time between the accepted commands', async () => {
    const { eventStore, handler } = setup();
    await handler.handle(moveCommand('start', 1, 0, { at: T0 }));
    await handler.handle(moveCommand('stop', 0, 0, { at: T0 + 2_500 }));
    const events = await eventStore.readStream('trainer-ash');
    expect(events.map((event) => event.data)).toEqual([
      expect.objectContaining({ position: { x: 0, y: 0 } }),
      expect.objectContaining({
        position: { x: 250, y: 0 },
        movement: { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 },
      }),
    ]);
  });

  it.each([1, 50])(
    'handles a redelivered command once (snapshot every %i events)',
    async (snapshotEvery) => {
      const { eventStore, notifications, handler } = setup({ snapshotEvery });
      await handler.handle(moveCommand('start'));
      const command = moveCommand('stop', 0, 0, { at: T0 + 1_000 });
      await handler.handle(command);
      await expect(handler.handle(command)).resolves.toEqual({ status: 'processed', version: 2 });
      expect(await eventStore.readStream('trainer-ash')).toHaveLength(2);
      expect(await notifications.read(undefined, 10)).toHaveLength(2);
    },
  );

  it('rejects an invalid move with the reason, appends nothing, and acknowledges it', async () => {
    const { eventStore, commandStatus, notifications, handler } = setup();
    const command = moveCommand('start', 0, 0);
    await expect(handler.handle(command)).resolves.toEqual({
      status: 'rejected',
      reason: 'cannot start moving without a direction',
    });
    expect(await eventStore.readStream('trainer-ash')).toEqual([]);
    expect(await commandStatus.get(command.messageId)).toMatchObject({
      status: 'rejected',
      reason: 'cannot start moving without a direction',
    });
    const [entry] = await notifications.read(undefined, 10);
    expect(entry!.notification.params).toEqual({
      commandId: command.messageId,
      status: 'rejected',
      reason: 'cannot start moving without a direction',
    });
  });

  // The reason reaches the user (command.result): `unknown trainer "misty"` alone said neither
  // why nor what to do, as the other rejections do.
  it('rejects a group change of an unknown trainer, saying why and what to do', async () => {
    const { commandStatus, handler } = setup();
    const command = groupCommand('join', 'party', 'misty');
    await expect(handler.handle(command)).resolves.toEqual({
      status: 'rejected',
      reason:
        'unknown trainer "misty": it has never moved, and only a trainer that moved once can ' +
        'join or leave a group (move it first)',
    });
    expect(await commandStatus.get(command.messageId)).toMatchObject({ status: 'rejected' });
  });

  it('joins and leaves groups; a change that changes nothing is processed without an event', async () => {
    const { eventStore, commandStatus, handler } = setup();
    await handler.handle(moveCommand('stop', 0, 0));
    await expect(handler.handle(groupCommand('join', 'party'))).resolves.toEqual({
      status: 'processed',
      version: 2,
    });
    const again = groupCommand('join', 'party');
    await expect(handler.handle(again)).resolves.toEqual({ status: 'processed', version: 2 });
    expect(await commandStatus.get(again.messageId)).toMatchObject({
      status: 'processed',
      version: 2,
    });
    await handler.handle(groupCommand('leave', 'party'));
    const types = (await eventStore.readStream('trainer-ash')).map((event) => event.type);
    expect(types).toEqual([
      'TrainerMovedEvent',
      'TrainerJoinedGroupEvent',
      'TrainerLeftGroupEvent',
    ]);
  });

  it('rejects a join of a group as full as GROUP_MAX_MEMBERS, counted in the read model written through; admits one once a member left', async () => {
    const groups = new InMemoryGroupMembers();
    const { eventStore, commandStatus, notifications } = setup();
    const handler = secondInstance(
      { eventStore, commandStatus, notifications },
      { groupLimit: { maxMembers: 2, groups }, groupMembers: { groups } },
    );
    for (const trainerId of ['ash', 'misty', 'brock'])
      await handler.handle(moveCommand('stop', 0, 0, { trainerId }));
    for (const trainerId of ['ash', 'misty'])
      await expect(handler.handle(groupCommand('join', 'party', trainerId))).resolves.toEqual({
        status: 'processed',
        version: 2,
      });
    const full = groupCommand('join', 'party', 'brock');
    const reason = 'group "party" has 2 members, the most a group may have: join when one has left';
    await expect(handler.handle(full)).resolves.toEqual({ status: 'rejected', reason });
    expect(await commandStatus.get(full.messageId)).toMatchObject({ status: 'rejected', reason });
    expect(await groups.membersOf('party')).toEqual(['ash', 'misty']);
    expect((await eventStore.readStream('trainer-brock')).map((event) => event.type)).toEqual([
      'TrainerMovedEvent',
    ]);
    // A member joining again is no join: processed, nothing appended.
    await expect(handler.handle(groupCommand('join', 'party', 'ash'))).resolves.toEqual({
      status: 'processed',
      version: 2,
    });
    await handler.handle(groupCommand('leave', 'party', 'misty'));
    await expect(handler.handle(groupCommand('join', 'party', 'brock'))).resolves.toEqual({
      status: 'processed',
      version: 2,
    });
    expect(await groups.membersOf('party')).toEqual(['ash', 'brock']);
  });

  it('fails, not admits, a join whose group it cannot count (retried later)', async () => {
    const groups = new InMemoryGroupMembers();
    const { eventStore, commandStatus, notifications } = setup();
    const handler = secondInstance(
      { eventStore, commandStatus, notifications },
      {
        groupLimit: {
          maxMembers: 2,
          groups: Object.assign(Object.create(groups) as InMemoryGroupMembers, {
            membersOf: () => Promise.reject(new Error('read model unreachable')),
          }),
        },
      },
    );
    await handler.handle(moveCommand('stop', 0, 0));
    const join = groupCommand('join', 'party');
    await expect(handler.handle(join)).rejects.toThrow('read model unreachable');
    expect(await commandStatus.get(join.messageId)).toBeUndefined();
    expect((await eventStore.readStream('trainer-ash')).map((event) => event.type)).toEqual([
      'TrainerMovedEvent',
    ]);
  });

  it('ends at one event per command when many commands of one trainer race', async () => {
    const { eventStore, handler } = setup({ snapshotEvery: 7 });
    const commands = Array.from({ length: 40 }, (_, i) =>
      moveCommand(i % 2 ? 'stop' : 'start', 1, 1, { at: T0 + i * 10 }),
    );
    const outcomes = await Promise.all(commands.map((command) => handler.handle(command)));
    expect(outcomes.every((outcome) => outcome.status === 'processed')).toBe(true);
    expect(new Set(outcomes.map((outcome) => outcome.version))).toEqual(
      new Set(Array.from({ length: 40 }, (_, i) => i + 1)),
    );
    const events = await eventStore.readStream('trainer-ash');
    expect(events.map((event) => event.metadata.causationId).sort()).toEqual(
      commands.map((command) => command.messageId).sort(),
    );
  });

  it('handles one command delivered to two instances at once as one move (no deduplication claim needed)', async () => {
    const groups = new InMemoryGroupMembers();
    const { eventStore, commandStatus, notifications, handler } = setup({ eager: { groups } });
    const other = new TrainerCommandHandler({
      serverId: 'trainer-2',
      eventStore,
      commandStatus,
      notifications,
      eagerNotifications: { notifier: new PositionNotifier(groups, notifications, 'trainer-2') },
      speed: 100,
      snapshotEvery: 0,
      conflictRetry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 5 },
    });
    await handler.handle(moveCommand('start', 1, 0));
    const command = moveCommand('stop', 0, 0, { at: T0 + 1_000 });
    const outcomes = await Promise.all([handler.handle(command), other.handle(command)]);
    expect(outcomes).toEqual([
      { status: 'processed', version: 2 },
      { status: 'processed', version: 2 },
    ]);
    expect(await eventStore.readStream('trainer-ash')).toHaveLength(2);
    const logged = (await notifications.read(undefined, 100)).map((e) => e.notification.method);
    expect(logged.sort()).toEqual([
      'command.result',
      'command.result',
      'position.update',
      'position.update',
    ]);
  });

  it('records a command that failed for good as rejected', async () => {
    const { commandStatus, notifications, handler } = setup();
    const command = moveCommand('start');
    await handler.deadLettered(command, new Error('mongodb unreachable'));
    expect(await commandStatus.get(command.messageId)).toMatchObject({
      status: 'rejected',
      reason: 'failed: mongodb unreachable',
    });
    expect(await notifications.read(undefined, 10)).toHaveLength(1);
  });

  it("reads every command's earlier outcome; fails, not applies, when it cannot", async () => {
    const { eventStore, commandStatus, handler } = setup();
    const read = jest.spyOn(commandStatus, 'get');
    await handler.handle(moveCommand('stop'));
    expect(read).toHaveBeenCalledTimes(1);
    read.mockRejectedValueOnce(new Error('redis unreachable'));
    const command = groupCommand('join', 'party');
    await expect(handler.handle(command)).rejects.toThrow('redis unreachable');
    expect(await eventStore.readStream('trainer-ash')).toHaveLength(1);
    // Read again on the redelivery, and applied: no copy of it was processed or expired.
    await expect(handler.handle(command)).resolves.toMatchObject({ status: 'processed' });
    expect(read).toHaveBeenCalledTimes(3);
    expect(await eventStore.readStream('trainer-ash')).toHaveLength(2);
  });

  it('defers commands until its stores are ready', async () => {
    let markReady!: () => void;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    const { handler } = setup({ ready });
    await expect(handler.handle(moveCommand('start'))).rejects.toBeInstanceOf(DeferredError);
    markReady();
    await ready; // the handler's own continuation was queued first
    await expect(handler.handle(moveCommand('start'))).resolves.toMatchObject({
      status: 'processed',
    });
  });

  it('derives event ids from the command id (uuid v5)', () => {
    const id = randomUUID();
    expect(uuidV5(`${id}:0`)).toBe(uuidV5(`${id}:0`));
    expect(uuidV5(`${id}:0`)).not.toBe(uuidV5(`${id}:1`));
    expect(uuidV5('x')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  describe('eager notifications', () => {
    const positions = async (log: InMemoryNotificationLog) =>
      (await log.read(undefined, 100))
        .map((entry) => entry.notification)
        .filter((notification) => notification.method === 'position.update');

    it("appends a move's position.update at once; the projection's later notify of the event adds nothing", async () => {
      const groups = new InMemoryGroupMembers();
      const { eventStore, notifications, handler } = setup({ eager: { groups } });
      const command = moveCommand('start', 3, 4);
      await handler.handle(command);
      expect(await positions(notifications)).toEqual([
        {
          notificationId: `position:${uuidV5(`${command.messageId}:0`)}`,
          targetType: 'broadcast',
          targetIds: [],
          method: 'position.update',
          params: {
            ...{ trainerId: 'ash', x: 0, y: 0, isMoving: true, dirX: 0.6, dirY: 0.8 },
            ...{ speed: 100, startedAt: T0, version: 1 },
          },
          serverId: 'trainer-1',
        },
      ]);
      // The event reaches projection-worker later and notifies it again: the log keeps one.
      const projection = new PositionNotifier(groups, notifications, 'projection-1');
      const [event] = await eventStore.readStream('trainer-ash');
      const [first] = await notifications.read(undefined, 1);
      await projection.notify(event as Envelope<TrainerMovedEvent>);
      expect(await positions(notifications)).toHaveLength(1);
      expect((await notifications.read(undefined, 100)).map((entry) => entry.id)).toContain(
        first!.id,
      );
    });

    it("writes a trainer's first move through to the positions read model: listed before the projection applies it", async () => {
      const positionRows = new InMemoryTrainerPositions();
      const errors: unknown[] = [];
      const { handler } = setup({
        eager: {
          groups: new InMemoryGroupMembers(),
          positions: positionRows,
          onGroupsError: (error) => errors.push(error),
        },
      });
      const apply = jest.spyOn(positionRows, 'apply');
      await handler.handle(moveCommand('start', 3, 4));
      expect(await positionRows.list()).toEqual([
        {
          ...{ trainerId: 'ash', x: 0, y: 0, isMoving: true, dirX: 0.6, dirY: 0.8 },
          ...{ speed: 100, startedAt: T0, version: 1, updatedAt: T0 },
          // The move's groups (none): the gateway reads them when GroupMembers is lost.
          groups: [],
        },
      ]);
      // Later moves reach the row through the log (withLoggedMoves), not by writes of their own.
      await handler.handle(moveCommand('stop', 0, 0));
      expect(apply).toHaveBeenCalledTimes(1);
      // A failed write is reported; the move is processed all the same.
      apply.mockRejectedValueOnce(new Error('redis down'));
      await expect(
        handler.handle(moveCommand('start', 1, 0, { trainerId: 'misty' })),
      ).resolves.toMatchObject({
        status: 'processed',
        version: 1,
      });
      expect(errors).toEqual([new Error('redis down')]);
    });

    it('addresses a trainer in groups to their members once the read model has its membership, and leaves it to the projection before', async () => {
      const groups = new InMemoryGroupMembers();
      const { eventStore, notifications, handler } = setup({ eager: { groups } });
      await handler.handle(moveCommand('stop', 1, 0));
      // The write-through of the join fails: the read model lags until the projection applies it.
      const apply = jest.spyOn(groups, 'apply').mockRejectedValueOnce(new Error('down'));
      await handler.handle(groupCommand('join', 'room-1'));
      apply.mockRestore();
      await groups.apply({ trainerId: 'misty', groupId: 'room-1', action: 'join', version: 2 });
      // The read model has not seen ash join room-1 yet: a broadcast now would leak the
      // position of a trainer that is private to its room, so nothing is appended.
      await handler.handle(moveCommand('stop', 0, 0, { at: T0 + 1_000 }));
      expect(await positions(notifications)).toHaveLength(1);
      await groups.apply({ trainerId: 'ash', groupId: 'room-1', action: 'join', version: 2 });
      // The read model has the join now, but the previous move is still the projection's to
      // notify: appending this one first would send it after a newer one (ADR 007, session 9).
      await handler.handle(moveCommand('start', 0, 1, { at: T0 + 2_000 }));
      expect(await positions(notifications)).toHaveLength(1);
      // Once the projection notified the moves before it, the fast path goes on.
      const projection = new PositionNotifier(groups, notifications, 'projection-1');
      for (const event of (await eventStore.readStream('trainer-ash')).slice(2))
        await projection.notify(event as Envelope<TrainerMovedEvent>);
      expect(await positions(notifications)).toHaveLength(3);
      await handler.handle(moveCommand('stop', 0, 0, { at: T0 + 3_000 }));
      expect(await positions(notifications)).toHaveLength(4);
      expect((await positions(notifications))[2]).toMatchObject({
        targetType: 'group',
        targetIds: ['room-1'],
        recipients: ['ash', 'misty'],
        params: { trainerId: 'ash', x: 0, y: 0, isMoving: true, dirX: 0, dirY: 1 },
      });
    });

    it('notifies the moves after a join or leave at once, with no projection running: the log holds moves only', async () => {
      const groups = new InMemoryGroupMembers();
      const { notifications, handler } = setup({ eager: { groups } });
      await handler.handle(moveCommand('stop', 1, 0));
      await handler.handle(groupCommand('join', 'room-1'));
      await handler.handle(moveCommand('start', 0, 1, { at: T0 + 1_000 }));
      await handler.handle(groupCommand('leave', 'room-1'));
      await handler.handle(moveCommand('stop', 0, 0, { at: T0 + 2_000 }));
      expect(
        (await positions(notifications)).map((notification) => ({
          version: (notification.params as { version: number }).version,
          targetType: notification.targetType,
        })),
      ).toEqual([
        { version: 1, targetType: 'broadcast' },
        { version: 3, targetType: 'group' },
        // Leaving its only group while walking starts the walk again for everyone (the
        // decider): notified at once, for the audience after the leave.
        { version: 4, targetType: 'broadcast' },
        { version: 6, targetType: 'broadcast' },
      ]);
    });

    it('writes joins and leaves through to GroupMembers at their versions, with no projection running; the projection applying them later, or an older join arriving late, changes nothing', async () => {
      const groups = new InMemoryGroupMembers();
      const { eventStore, notifications, handler } = setup({ eager: { groups } });
      await handler.handle(moveCommand('stop', 1, 0));
      await handler.handle(moveCommand('stop', 1, 0, { trainerId: 'misty' }));
      await handler.handle(groupCommand('join', 'room-1', 'misty'));
      await expect(handler.handle(groupCommand('join', 'room-1'))).resolves.toEqual({
        status: 'processed',
        version: 2,
      });
      // Nothing but the handler wrote the read model.
      expect(await groups.membersOf('room-1')).toEqual(['ash', 'misty']);
      expect(await groups.groupsOf('ash')).toEqual(['room-1']);
      await handler.handle(groupCommand('leave', 'room-1'));
      expect(await groups.membersOf('room-1')).toEqual(['misty']);
      expect(await groups.groupsOf('ash')).toEqual([]);
      // projection-worker applies the same events later, as it does (ReadModelsProjector): no-ops.
      const changes = (await eventStore.readStream('trainer-ash'))
        .filter((event) => event.type !== 'TrainerMovedEvent')
        .map((event) => ({
          trainerId: 'ash',
          groupId: 'room-1',
          action: event.type === 'TrainerJoinedGroupEvent' ? ('join' as const) : ('leave' as const),
          version: event.version,
        }));
      expect(changes.map((change) => [change.action, change.version])).toEqual([
        ['join', 2],
        ['leave', 3],
      ]);
      // The older join arrives last (a lagging worker): ash stays out of room-1.
      for (const change of [changes[1]!, changes[0]!])
        await expect(groups.apply(change)).resolves.toBe(false);
      expect(await groups.membersOf('room-1')).toEqual(['misty']);
      // A leave takes effect for the eager notifications of the group's next moves. (misty's
      // first move after her join is the projection's to notify: the log wants her previous
      // version, the join, notified before a fast-path append.)
      await handler.handle(moveCommand('stop', 0, 0, { at: T0 + 1_000, trainerId: 'misty' }));
      const projection = new PositionNotifier(groups, notifications, 'projection-1');
      const [, , stop] = await eventStore.readStream('trainer-misty');
      await projection.notify(stop as Envelope<TrainerMovedEvent>);
      await handler.handle(moveCommand('start', 0, 1, { at: T0 + 2_000, trainerId: 'misty' }));
      const [last] = (await positions(notifications)).slice(-1);
      expect(last).toMatchObject({
        serverId: 'trainer-1',
        targetType: 'group',
        targetIds: ['room-1'],
        recipients: ['misty'],
        params: { trainerId: 'misty', isMoving: true },
      });
    });

    it('never fails a command over a failed write-through: it is reported, and a redelivery of the change writes it through again', async () => {
      const groups = new InMemoryGroupMembers();
      const errors: unknown[] = [];
      const { commandStatus, handler } = setup({
        eager: { groups, onGroupsError: (error) => errors.push(error) },
      });
      await handler.handle(moveCommand('stop', 1, 0));
      await handler.handle(groupCommand('join', 'room-1'));
      const leave = groupCommand('leave', 'room-1');
      const apply = jest.spyOn(groups, 'apply').mockRejectedValueOnce(new Error('redis down'));
      await expect(handler.handle(leave)).resolves.toEqual({ status: 'processed', version: 3 });
      expect(await commandStatus.get(leave.messageId)).toMatchObject({ status: 'processed' });
      expect(errors).toEqual([new Error('redis down')]);
      expect(await groups.membersOf('room-1')).toEqual(['ash']);
      // Redelivered (e.g. the instance died before the ack): already stored, written through.
      await expect(handler.handle(leave)).resolves.toEqual({ status: 'processed', version: 3 });
      expect(apply).toHaveBeenLastCalledWith({
        trainerId: 'ash',
        groupId: 'room-1',
        action: 'leave',
        version: 3,
      });
      expect(await groups.membersOf('room-1')).toEqual([]);
      apply.mockRestore();
    });

    it('does not wait for a write-through that hangs: the command completes, the change is left to the projection', async () => {
      const groups = new InMemoryGroupMembers();
      const errors: unknown[] = [];
      const { commandStatus, handler } = setup({
        eager: { groups, onGroupsError: (error) => errors.push(error), groupsTimeoutMs: 50 },
      });
      await handler.handle(moveCommand('stop', 1, 0));
      jest.spyOn(groups, 'apply').mockReturnValueOnce(new Promise(() => {}));
      const join = groupCommand('join', 'room-1');
      const started = Date.now();
      await expect(handler.handle(join)).resolves.toEqual({ status: 'processed', version: 2 });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(await commandStatus.get(join.messageId)).toMatchObject({ status: 'processed' });
      expect(errors).toEqual([new Error('group write-through did not answer within 50 ms')]);
    });

    it('never fails a command: a failed notification is reported and pauses the fast path', async () => {
      const groups = new InMemoryGroupMembers();
      const errors: unknown[] = [];
      const broken = new InMemoryNotificationLog();
      const append = jest
        .spyOn(broken, 'append')
        .mockRejectedValue(new Error('notification log unavailable'));
      const { commandStatus, handler } = setup({
        eager: { groups, log: broken, onError: (error) => errors.push(error) },
      });
      const command = moveCommand('start', 1, 0);
      await expect(handler.handle(command)).resolves.toEqual({ status: 'processed', version: 1 });
      expect(await commandStatus.get(command.messageId)).toMatchObject({ status: 'processed' });
      expect(errors).toEqual([new Error('notification log unavailable')]);
      // Paused: the next move does not try again (the projection keeps them in order).
      await handler.handle(moveCommand('stop', 0, 0, { at: T0 + 1_000 }));
      expect(append).toHaveBeenCalledTimes(1);
    });
  });
});
