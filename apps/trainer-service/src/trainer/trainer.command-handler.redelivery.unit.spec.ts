import {
  CommandExpiredError,
  type Envelope,
  InMemoryEventStore,
  InMemorySnapshotStore,
  MessageFactory,
} from '@causeway/cqrs-core';
import { contractsSerializer } from '@causeway/contracts';
import { InMemoryCommandStatusStore, InMemoryNotificationLog } from '@causeway/platform';
import { TrainerCommandHandler } from './trainer.command-handler';
import { trainerDecider } from './trainer.decider';
import { TrainerStream } from './trainer.stream';

/**
 * Commands that come again (a redelivery, an Idempotency-Key retry, a replayed dead letter) and
 * commands decided on a trainer cached by one instance while another instance changed it.
 */
const T0 = Date.parse('2026-11-21T10:00:00.000Z');
const factory = new MessageFactory();

function moveCommand(action: 'start' | 'stop', dx: number, at: number): Envelope {
  return factory.command(
    'MoveTrainerCommand',
    { trainerId: 'ash', directionX: dx, directionY: 0, action, timestamp: at },
    {
      aggregateId: 'ash',
      causedBy: null,
      metadata: { issuerId: 'ash', timestamp: new Date(at).toISOString() },
    },
  );
}

function groupCommand(action: 'join' | 'leave', groupId: string, at: number): Envelope {
  return factory.command(
    'ChangeGroupCommand',
    { trainerId: 'ash', groupId, action, timestamp: at },
    {
      aggregateId: 'ash',
      causedBy: null,
      metadata: { issuerId: 'ash', timestamp: new Date(at).toISOString() },
    },
  );
}

/** Instances sharing one event store and one status store, and the stored trainer. */
function system() {
  const eventStore = new InMemoryEventStore({ serializer: contractsSerializer() });
  const commandStatus = new InMemoryCommandStatusStore();
  const notifications = new InMemoryNotificationLog();
  /** `now`: the clock of the instance (the deadline is checked by it before an append). */
  const instance = (serverId: string, now?: () => Date) =>
    new TrainerCommandHandler({
      serverId,
      eventStore,
      snapshots: new InMemorySnapshotStore(),
      commandStatus,
      notifications,
      speed: 100,
      snapshotEvery: 0,
      conflictRetry: { maxAttempts: 20, initialDelayMs: 1, maxDelayMs: 5 },
      ...(now && { now }),
    });
  const stored = async () => {
    const stream = new TrainerStream({
      eventStore,
      snapshotEvery: 0,
      decider: trainerDecider({ speed: 100 }),
    });
    return (await stream.repository('read').load('trainer-ash')).state.trainer;
  };
  return { eventStore, commandStatus, notifications, instance, stored };
}

describe('TrainerCommandHandler: commands that come again, and stale cached trainers', () => {
  it('applies a join decided where the cached trainer is stale (another instance took it out of the group)', async () => {
    const { commandStatus, instance, stored } = system();
    const [a, b] = [instance('trainer-1'), instance('trainer-2')];
    await a.handle(moveCommand('stop', 1, T0));
    await a.handle(groupCommand('join', 'party', T0 + 1));
    // The trainer's partition moved to b (a rebalance), where the user left the party.
    await b.handle(groupCommand('leave', 'party', T0 + 2));
    // Back on a, whose cache still has the trainer in the party: "join" is not a no-op.
    const rejoin = groupCommand('join', 'party', T0 + 3);
    expect(await a.handle(rejoin)).toEqual({ status: 'processed', version: 4 });
    expect((await stored()).groups).toEqual(['party']);
    expect(await commandStatus.get(rejoin.messageId)).toMatchObject({ version: 4 });
  });

  it('applies a leave decided where the cached trainer is stale (another instance put it in the group)', async () => {
    const { instance, stored } = system();
    const [a, b] = [instance('trainer-1'), instance('trainer-2')];
    await a.handle(moveCommand('stop', 1, T0));
    await b.handle(groupCommand('join', 'party', T0 + 1));
    expect(await a.handle(groupCommand('leave', 'party', T0 + 2))).toEqual({
      status: 'processed',
      version: 3,
    });
    expect((await stored()).groups).toEqual([]);
  });

  it('never applies a move twice, however many commands of the trainer came between', async () => {
    const { eventStore, instance, stored } = system();
    const a = instance('trainer-1');
    const start = moveCommand('start', 1, T0);
    await a.handle(start);
    await a.handle(moveCommand('stop', 0, T0 + 1_000)); // 1 s at 100/s: x = 100
    for (let i = 0; i < 40; i++) await a.handle(moveCommand('stop', 0, T0 + 2_000 + i));
    const before = await stored();
    // The start again, e.g. a dead letter replayed, on another instance.
    expect(await instance('trainer-2').handle(start)).toEqual({ status: 'processed', version: 1 });
    expect(await eventStore.readStream('trainer-ash')).toHaveLength(42);
    expect(await stored()).toEqual(before);
    await instance('trainer-3').handle(moveCommand('stop', 0, T0 + 100_000));
    expect((await stored()).position).toEqual({ x: 100, y: 0 });
  });

  it('never applies a group change twice: a late retry of a leave does not take the trainer out again', async () => {
    const { eventStore, instance, stored } = system();
    const a = instance('trainer-1');
    await a.handle(moveCommand('stop', 0, T0));
    await a.handle(groupCommand('join', 'party', T0 + 1));
    const leave = groupCommand('leave', 'party', T0 + 2);
    await a.handle(leave);
    for (let i = 0; i < 33; i++)
      await a.handle(moveCommand(i % 2 ? 'stop' : 'start', 1, T0 + 3 + i));
    await a.handle(groupCommand('join', 'party', T0 + 100));
    // The client's retry of the leave (same Idempotency-Key, same command id) comes now.
    expect(await a.handle(leave)).toEqual({ status: 'processed', version: 3 });
    const events = await eventStore.readStream('trainer-ash');
    expect(events.filter((e) => e.metadata.causationId === leave.messageId)).toHaveLength(1);
    expect((await stored()).groups).toEqual(['party']);
  });

  it('records a dead-lettered command that was applied (only its outcome was not recorded) as processed', async () => {
    const { commandStatus, instance, stored } = system();
    const a = instance('trainer-1');
    await a.handle(moveCommand('start', 1, T0));
    const stop = moveCommand('stop', 0, T0 + 1_000);
    const complete = jest
      .spyOn(commandStatus, 'complete')
      .mockRejectedValue(new Error('status store down'));
    let failure: unknown;
    for (let attempt = 0; attempt < 3; attempt++)
      await a.handle(stop).catch((error: unknown) => (failure = error));
    complete.mockRestore();
    await a.deadLettered(stop, failure);
    expect(await stored()).toMatchObject({ position: { x: 100, y: 0 } });
    expect(await commandStatus.get(stop.messageId)).toMatchObject({
      status: 'processed',
      version: 2,
    });
  });

  it('turns a dead-lettered command a replay applied into processed, and tells its issuer', async () => {
    const { commandStatus, instance, stored, notifications } = system();
    const a = instance('trainer-1');
    await a.handle(moveCommand('stop', 0, T0));
    const join = groupCommand('join', 'party', T0 + 1);
    // Failed for good (the event store was down through every retry): dead-lettered.
    await a.deadLettered(join, new Error('event store down'));
    expect(await commandStatus.get(join.messageId)).toMatchObject({
      status: 'rejected',
      reason: 'failed: event store down',
    });
    // The operator replays the dead letter: the same envelope, the same id.
    expect(await instance('trainer-2').handle(join)).toEqual({ status: 'processed', version: 2 });
    expect((await stored()).groups).toEqual(['party']);
    expect(await commandStatus.get(join.messageId)).toMatchObject({
      status: 'processed',
      version: 2,
    });
    const results = (await notifications.read(undefined, 100))
      .map(({ notification }) => notification)
      .filter((notification) => notification.method === 'command.result')
      .map((notification) => notification.params)
      .filter((params) => (params as { commandId: string }).commandId === join.messageId);
    expect(results).toEqual([
      { commandId: join.messageId, status: 'rejected', reason: 'failed: event store down' },
      { commandId: join.messageId, status: 'processed', version: 2 },
    ]);
  });

  it('answers a processed command that came again after its deadline as processed, not expired', async () => {
    const { instance } = system();
    // Handled within its deadline, at T0 + 1 s.
    const a = instance('trainer-1', () => new Date(T0 + 1_000));
    const created = moveCommand('start', 1, T0);
    const start = {
      ...created,
      metadata: { ...created.metadata, deadline: new Date(T0 + 60_000).toISOString() },
    };
    await a.handle(start);
    for (let i = 0; i < 40; i++) await a.handle(moveCommand('stop', 0, T0 + 1_000 + i));
    const expiry = new CommandExpiredError(start.messageId, start.type, start.metadata.deadline);
    expect(await instance('trainer-2').expired(start, expiry)).toEqual({
      status: 'processed',
      version: 1,
    });
  });
});

describe('TrainerCommandHandler: an applied command that comes again after its deadline', () => {
  it('is processed, not failed as expired, on an instance whose cached trainer is stale', async () => {
    // A review (session 35): the stale copy lacked the command, so it was decided again there and
    // refused at the deadline check: its status stayed `accepted` although the trainer moved.
    const { eventStore, commandStatus, notifications, instance } = system();
    let now = T0;
    const b = instance('trainer-b', () => new Date(now));
    await b.handle(moveCommand('stop', 0, T0)); // b keeps the trainer at version 1
    // The partition moves to a, which applies X and dies before recording its outcome.
    const a = new TrainerCommandHandler({
      serverId: 'trainer-a',
      eventStore,
      snapshots: new InMemorySnapshotStore(),
      commandStatus: new InMemoryCommandStatusStore(), // its writes die with it
      notifications,
      speed: 100,
      snapshotEvery: 0,
      now: () => new Date(T0 + 1_000),
    });
    const created = moveCommand('start', 1, T0 + 1_000);
    const deadline = new Date(T0 + 61_000).toISOString();
    const x = { ...created, metadata: { ...created.metadata, deadline } };
    await commandStatus.accepted({
      commandId: x.messageId,
      type: x.type,
      issuerId: 'ash',
      acceptedAt: x.metadata.timestamp,
      deadline,
    });
    await a.handle(x);
    // b claims X after its deadline.
    now = T0 + 120_000;
    const expiry = new CommandExpiredError(x.messageId, x.type, deadline);
    expect(await b.expired(x, expiry, { attempt: 2 })).toEqual({ status: 'processed', version: 2 });
    expect(await commandStatus.get(x.messageId)).toMatchObject({ status: 'processed', version: 2 });
    expect(await eventStore.readStream('trainer-ash')).toHaveLength(2);
  });
});

describe('TrainerCommandHandler: a command another instance stored, redelivered where the trainer is cached stale', () => {
  it("keeps deciding on the stored trainer, not on the stale one the copy's decision was made on", async () => {
    // A review (session 44): the copy, decided on the stale cache, was recognised as stored by
    // its event ids (a conflict, then a duplicate), and the state folded on the stale trainer was
    // cached under the stream's version: the next command was decided on it and appended.
    const { eventStore, commandStatus, notifications, instance, stored } = system();
    const a = instance('trainer-a');
    await a.handle(moveCommand('start', 1, T0)); // a keeps the trainer at version 1, walking east
    // The partition moves to b: it stops the trainer at x = 100, starts it north (X) and dies
    // before recording X's outcome.
    const b = new TrainerCommandHandler({
      serverId: 'trainer-b',
      eventStore,
      snapshots: new InMemorySnapshotStore(),
      commandStatus: new InMemoryCommandStatusStore(), // its writes die with it
      notifications,
      speed: 100,
      snapshotEvery: 0,
    });
    await b.handle(moveCommand('stop', 0, T0 + 1_000));
    const created = moveCommand('start', 0, T0 + 2_000);
    const x = { ...created, data: { ...(created.data as object), directionY: 1 } };
    await b.handle(x);
    // X is redelivered to a, back in charge of the partition.
    expect(await a.handle(x)).toEqual({ status: 'processed', version: 3 });
    expect(await commandStatus.get(x.messageId)).toMatchObject({ status: 'processed', version: 3 });
    // The user stops the trainer 1 s later: 100 north of where it set off, x = 100.
    await a.handle(moveCommand('stop', 0, T0 + 3_000));
    expect((await stored()).position).toEqual({ x: 100, y: 100 });
    const events = await eventStore.readStream('trainer-ash');
    expect(events.filter((e) => e.metadata.causationId === x.messageId)).toHaveLength(1);
  });
});

describe('TrainerCommandHandler: a command the domain refused, that comes again', () => {
  it('is answered rejected as the first time, and changes nothing, though it would now pass', async () => {
    // A review (session 35): a keyed retry (same command id) of a join refused for an unknown
    // trainer was applied once the trainer existed, while its status and result said `rejected`.
    const { eventStore, commandStatus, instance } = system();
    const handler = instance('trainer-1', () => new Date(T0 + 2_000));
    const join = groupCommand('join', 'room', T0);
    const refused = await handler.handle(join);
    expect(refused).toMatchObject({ status: 'rejected', reason: expect.stringContaining('ash') });
    await handler.handle(moveCommand('start', 1, T0 + 1_000)); // the trainer exists now
    // The same command id again (an Idempotency-Key retry after a 503, or a redelivery).
    expect(await handler.handle({ ...join, metadata: { ...join.metadata } })).toEqual(refused);
    const events = await eventStore.readStream('trainer-ash');
    expect(events.map((event) => event.type)).toEqual(['TrainerMovedEvent']);
    expect(await commandStatus.get(join.messageId)).toMatchObject(refused);
  });
});

describe('TrainerCommandHandler.expired: what it reads', () => {
  /** A real in-memory store whose stream reads can be made to fail (a server gone), counted. */
  class UnreadableStore extends InMemoryEventStore {
    unreadable = false;
    reads = 0;
    override readStream(...args: Parameters<InMemoryEventStore['readStream']>) {
      this.reads++;
      if (this.unreadable) return Promise.reject(new Error('event store unreachable'));
      return super.readStream(...args);
    }
  }

  /** A real in-memory status store whose outcomes can be made to fail (Redis gone). */
  class FailingOutcomes extends InMemoryCommandStatusStore {
    failing = false;
    override complete(...args: Parameters<InMemoryCommandStatusStore['complete']>) {
      if (this.failing) return Promise.reject(new Error('status store unreachable'));
      return super.complete(...args);
    }
  }

  /** `countsRedeliveries`: Redis Streams and the in-memory broker (default); not Kafka. */
  function setup(countsRedeliveries = true) {
    const eventStore = new UnreadableStore({ serializer: contractsSerializer() });
    const commandStatus = new FailingOutcomes();
    const instance = (serverId: string) =>
      new TrainerCommandHandler({
        serverId,
        eventStore,
        commandStatus,
        notifications: new InMemoryNotificationLog(),
        speed: 100,
        snapshotEvery: 0,
        cacheSize: 0,
        countsRedeliveries,
        // The attempts that handle (apply) a command run within its deadline; the expiries
        // come later (the commands below have deadlines of T0 + 60 s and after).
        now: () => new Date(T0 + 5_000),
      });
    const handler = instance('trainer-1');
    /** A command past its deadline, recorded `accepted` as command-api does when it sends. */
    const expiring = async (at: number) => {
      const created = moveCommand('start', 1, at);
      const deadline = new Date(at + 60_000).toISOString();
      const command = { ...created, metadata: { ...created.metadata, deadline } };
      await commandStatus.accepted({
        commandId: command.messageId,
        type: command.type,
        issuerId: 'ash',
        acceptedAt: new Date(at).toISOString(),
        deadline,
      });
      return {
        command,
        expiry: new CommandExpiredError(command.messageId, command.type, deadline),
      };
    };
    return { eventStore, commandStatus, handler, instance, expiring };
  }

  it('records a first delivery never begun as expired without reading the stream (a backlog drains)', async () => {
    const { eventStore, commandStatus, handler, expiring } = setup();
    const { command, expiry } = await expiring(T0);
    eventStore.unreadable = true;
    await expect(handler.expired(command, expiry, { attempt: 1 })).resolves.toMatchObject({
      status: 'rejected',
      reason: expect.stringMatching(/^expired: /),
    });
    expect((await commandStatus.get(command.messageId))?.status).toBe('rejected');
  });

  it('reads the stream for a redelivery, and for a first delivery whose handling began here', async () => {
    const { eventStore, commandStatus, handler, expiring } = setup();
    const redelivered = await expiring(T0);
    eventStore.unreadable = true;
    await expect(
      handler.expired(redelivered.command, redelivered.expiry, { attempt: 2 }),
    ).rejects.toThrow('event store unreachable');
    // Applied by a first try in process whose outcome could not be recorded, retried too late.
    eventStore.unreadable = false;
    const retried = await expiring(T0 + 1_000);
    commandStatus.failing = true;
    await expect(handler.handle(retried.command)).rejects.toThrow('status store unreachable');
    commandStatus.failing = false;
    expect((await commandStatus.get(retried.command.messageId))?.status).toBe('accepted');
    await expect(handler.expired(retried.command, retried.expiry, { attempt: 1 })).resolves.toEqual(
      { status: 'processed', version: 1 },
    );
  });

  it('reads the stream for a first delivery when the transport may number a redelivery 1 (Kafka)', async () => {
    const { eventStore, handler, expiring } = setup(false);
    const { command, expiry } = await expiring(T0);
    eventStore.unreadable = true;
    await expect(handler.expired(command, expiry, { attempt: 1 })).rejects.toThrow(
      'event store unreachable',
    );
  });

  it("reads a trainer's stream once for a dead instance's backlog of its expired commands", async () => {
    const { eventStore, commandStatus, instance, expiring } = setup();
    const backlog = [];
    for (let i = 0; i < 20; i++) backlog.push(await expiring(T0 + i * 100));
    // trainer-1 applied the sixth, and died before recording it.
    commandStatus.failing = true;
    await expect(instance('trainer-1').handle(backlog[5]!.command)).rejects.toThrow(
      'status store unreachable',
    );
    commandStatus.failing = false;
    // trainer-2 claims the backlog: every command is past its deadline, each a redelivery.
    const heir = instance('trainer-2');
    const readsBefore = eventStore.reads;
    const outcomes = [];
    for (const { command, expiry } of backlog)
      outcomes.push(await heir.expired(command, expiry, { attempt: 2 }));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(
      backlog.map((_, i) => (i === 5 ? 'processed' : 'rejected')),
    );
    // One read for the first five, the sixth handled (it may change the trainer), one more read.
    expect(eventStore.reads - readsBefore).toBeLessThanOrEqual(3);
  });

  it('finds a command applied by another instance since its shared read began, and records it processed', async () => {
    const { commandStatus, instance, expiring } = setup();
    const backlog = [await expiring(T0), await expiring(T0 + 100)];
    // trainer-2 claims a dead instance's backlog: its first expired command reads the stream.
    const heir = instance('trainer-2');
    await expect(
      heir.expired(backlog[0]!.command, backlog[0]!.expiry, { attempt: 2 }),
    ).resolves.toMatchObject({ status: 'rejected' });
    // The partition moves to trainer-3, which applies the second and dies before recording it.
    commandStatus.failing = true;
    await expect(instance('trainer-3').handle(backlog[1]!.command)).rejects.toThrow(
      'status store unreachable',
    );
    commandStatus.failing = false;
    // Back on trainer-2 (within the shared read's lifetime), redelivered after its deadline.
    await expect(
      heir.expired(backlog[1]!.command, backlog[1]!.expiry, { attempt: 2 }),
    ).resolves.toEqual({ status: 'processed', version: 1 });
    expect((await commandStatus.get(backlog[1]!.command.messageId))?.status).toBe('processed');
  });
});
