import path from 'node:path';
import Redis from 'ioredis';
import {
  type Envelope,
  foldEvents,
  MessageFactory,
  type StoredEvent,
  topicNaming,
  withDeadline,
} from '@causeway/cqrs-core';
import { mongoConnection, MongoEventStore } from '@causeway/cqrs-core/mongodb';
import { RedisStreamsPublisher, RedisStreamsSubscriber } from '@causeway/cqrs-core/redis';
import {
  contractsSerializer,
  type CommandStatus,
  type TrainerMovedEvent,
} from '@causeway/contracts';
import {
  COMMAND_TOPICS,
  PositionNotifier,
  RedisCommandStatusStore,
  RedisGroupMembers,
  RedisNotificationLog,
  TokenService,
} from '@causeway/platform';
import {
  serverAddress,
  type ServiceProcess,
  startServiceProcess,
  testNamespace,
  waitForStatus,
} from '@causeway/testkit';
import { positionAt, trainerDecider, type TrainerEvent } from '../src/trainer/trainer.decider';

// trainer-service as real processes on Redis + FerretDB: commands in on the Redis command bus,
// outcomes in the CommandStatusStore, events in the MongoDB store and on the event bus.
jest.setTimeout(240_000);

const ns = testNamespace('trainersvc');
const prefix = ns.id;
const keyPrefix = `${prefix}:`;
// As command-api sends them: a trainer's commands share one topic (the platform's mapping).
const naming = topicNaming(prefix, { commandTopics: COMMAND_TOPICS });
const serializer = contractsSerializer();
const factory = new MessageFactory();
const appDir = path.join(__dirname, '..');
const jwtSecret = `jwt-${ns.id}-0123456789-0123456789`;

let redis: Redis;
let publisher: RedisStreamsPublisher;
let subscriber: RedisStreamsSubscriber;
let statuses: RedisCommandStatusStore;
let notifications: RedisNotificationLog;
let mongo: ReturnType<typeof mongoConnection>;
let store: MongoEventStore;
const onBus = new Map<string, Envelope>();
const instances: ServiceProcess[] = [];

async function start(name: string, extra: Record<string, string> = {}): Promise<ServiceProcess> {
  const service = await startServiceProcess({
    appDir,
    env: {
      REDIS_URL: ns.redisUrl,
      MONGODB_URI: ns.mongoUri(),
      ADMIN_TOKEN: 'admin-token-0123456789',
      TOPIC_PREFIX: prefix,
      INSTANCE_ID: name,
      FORWARDER_LEASE_MS: '1000',
      SNAPSHOT_EVERY: '10',
      // A command in flight on the killed instance is redone by the survivor after this.
      COMMAND_TIMEOUT_MS: '4000',
      DEDUP_LEASE_MS: '5000',
      // This host's clock may run up to 5 s ahead of command-api's.
      COMMAND_CLOCK_SKEW_MS: '5000',
      LOG_LEVEL: 'info',
      ...extra,
    },
  });
  instances.push(service);
  await waitForStatus(`${service.url}/health/ready`, 200, 60_000);
  return service;
}

function move(trainerId: string, action: 'start' | 'stop', dx = 1, dy = 0): Envelope {
  return factory.command(
    'MoveTrainerCommand',
    { trainerId, directionX: dx, directionY: dy, action, timestamp: Date.now() },
    { aggregateId: trainerId, causedBy: null, metadata: { issuerId: trainerId } },
  );
}

function changeGroup(trainerId: string, groupId: string, action: 'join' | 'leave'): Envelope {
  return factory.command(
    'ChangeGroupCommand',
    { trainerId, groupId, action, timestamp: Date.now() },
    { aggregateId: trainerId, causedBy: null, metadata: { issuerId: trainerId } },
  );
}

async function send(...commands: Envelope[]): Promise<void> {
  for (const command of commands) await publisher.publish(naming.command(command.type), [command]);
}

async function until<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const completed = (id: string) =>
  until<CommandStatus>(async () => {
    const status = await statuses.get(id);
    return status && status.status !== 'accepted' ? status : undefined;
  }, `the outcome of ${id}`);

async function allCompleted(ids: readonly string[], timeoutMs: number): Promise<CommandStatus[]> {
  return until(
    async () => {
      const all = await Promise.all(ids.map((id) => statuses.get(id)));
      return all.every((status) => status && status.status !== 'accepted')
        ? (all as CommandStatus[])
        : undefined;
    },
    `${ids.length} outcomes`,
    timeoutMs,
  );
}

beforeAll(async () => {
  redis = new Redis(ns.redisUrl);
  publisher = new RedisStreamsPublisher({ client: redis, serializer, keyPrefix });
  subscriber = new RedisStreamsSubscriber({ client: redis, serializer, keyPrefix });
  statuses = new RedisCommandStatusStore(redis, { keyPrefix });
  notifications = new RedisNotificationLog({ client: redis, keyPrefix });
  mongo = mongoConnection({ uri: ns.mongoUri(), name: 'verifier' });
  await mongo.open();
  store = new MongoEventStore({ connection: mongo.client, serializer });
  await store.init();
  await subscriber.subscribe(
    [naming.event('TrainerMovedEvent'), naming.event('TrainerJoinedGroupEvent')],
    { group: 'observer', consumer: 'observer-1', startFrom: 'earliest', maxInFlight: 64 },
    async (delivery) => void onBus.set(delivery.envelope.messageId, delivery.envelope),
  );
});

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.stop('SIGKILL')));
  await subscriber?.close();
  await publisher?.close();
  await notifications?.close();
  const keys = await redis.keys(`${keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await mongo.client.dropDatabase();
  await mongo.close();
});

describe('trainer-service on Redis + MongoDB', () => {
  it('processes a move sent on the command bus: status, stored event, event on the bus, result and position notifications', async () => {
    const instance = await start('trainer-a');
    const command = move('ash', 'start', 3, 4);
    await send(command);
    expect(await completed(command.messageId)).toMatchObject({
      status: 'processed',
      version: 1,
      type: 'MoveTrainerCommand',
      issuerId: 'ash',
    });
    const [event] = await store.readStream('trainer-ash');
    expect(event).toMatchObject({
      type: 'TrainerMovedEvent',
      version: 1,
      data: {
        trainerId: 'ash',
        position: { x: 0, y: 0 },
        movement: { isMoving: true, direction: { x: 0.6, y: 0.8 }, speed: 100 },
      },
      metadata: { causationId: command.messageId },
    });
    const published = await until(async () => onBus.get(event!.messageId), 'the event on the bus');
    expect(published).toMatchObject({ type: 'TrainerMovedEvent', data: event!.data });
    const result = await until(async () => {
      const entries = await notifications.read(undefined, 1_000);
      return entries.find(
        (entry) => entry.notification.notificationId === `command-result:${command.messageId}`,
      );
    }, 'the command.result notification');
    expect(result.notification).toMatchObject({
      targetType: 'user',
      targetIds: ['ash'],
      method: 'command.result',
      params: { commandId: command.messageId, status: 'processed', version: 1 },
      serverId: 'trainer-a',
    });
    // The eager position.update (no projection-worker runs here): ash is in no group, and the
    // empty GroupMembers read model agrees, so it is a broadcast.
    const position = await until(async () => {
      const entries = await notifications.read(undefined, 1_000);
      return entries.find((entry) => entry.notification.method === 'position.update');
    }, 'the eager position.update');
    expect(position.notification).toEqual({
      notificationId: `position:${event!.messageId}`,
      targetType: 'broadcast',
      targetIds: [],
      method: 'position.update',
      params: {
        ...{ trainerId: 'ash', x: 0, y: 0, isMoving: true, dirX: 0.6, dirY: 0.8 },
        ...{ speed: 100, startedAt: (event!.data as TrainerMovedEvent).movement.startedAt },
        version: 1,
      },
      serverId: 'trainer-a',
    });
    // The outbox in /metrics: the event went out eagerly; the lone instance runs the rounds
    // (their first read happens once it holds the lease).
    const sample = (metrics: string, name: string, label = '') =>
      Number(
        metrics
          .split('\n')
          .find((line) => line.startsWith(name) && line.includes(label))
          ?.split(' ')
          .at(-1),
      );
    const metrics = await until(async () => {
      const text = await (await fetch(`${instance.url}/metrics`)).text();
      return sample(text, 'causeway_forwarder_store_reads_total') >= 1 ? text : undefined;
    }, 'a read of the store by the rounds');
    expect(
      sample(metrics, 'causeway_forwarder_events_published_total', 'mode="eager"'),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'causeway_forwarder_forwarding')).toBe(1);
    // Nothing unpublishable: not blocked, and the outbox probe of /health passes.
    expect(sample(metrics, 'causeway_forwarder_blocked')).toBe(0);
    const health = (await (await fetch(`${instance.url}/health`)).json()) as {
      probes: Record<string, { critical: boolean }>;
    };
    expect(health.probes.outbox).toMatchObject({ critical: false });
  });

  it('records rejections with their reason and leaves the stream alone', async () => {
    const noDirection = move('ash', 'start', 0, 0);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const untraced = changeGroup('nobody', 'party', 'join');
    const unknown = {
      ...untraced,
      metadata: { ...untraced.metadata, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    };
    const join = changeGroup('ash', 'party', 'join');
    await send(noDirection, unknown, join);
    expect(await completed(noDirection.messageId)).toMatchObject({
      status: 'rejected',
      reason: 'cannot start moving without a direction',
    });
    expect(await completed(unknown.messageId)).toMatchObject({
      status: 'rejected',
      reason:
        'unknown trainer "nobody": it has never moved, and only a trainer that moved once can ' +
        'join or leave a group (move it first)',
    });
    // Ash was walking: going private, it stops first, seen by everyone (ADR 007, session 23).
    expect(await completed(join.messageId)).toMatchObject({ status: 'processed', version: 3 });
    expect((await store.readStream('trainer-ash')).map((event) => event.type)).toEqual([
      'TrainerMovedEvent',
      'TrainerMovedEvent',
      'TrainerJoinedGroupEvent',
    ]);
    expect(await store.readStream('trainer-nobody')).toEqual([]);
    // Each rejection is a log line naming the command, trainer, user and reason.
    const rejections = await until(async () => {
      const lines = instances
        .flatMap((instance) => instance.stdoutLines())
        .filter((line) => line.includes('"msg":"rejected '))
        .map((line) => JSON.parse(line) as { msg: string; commandIds: string[]; userId: string });
      const ids = lines.flatMap((line) => line.commandIds);
      return ids.includes(unknown.messageId) && ids.includes(noDirection.messageId)
        ? lines
        : undefined;
    }, 'the rejections logged');
    expect(rejections).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          msg:
            `rejected ChangeGroupCommand ${unknown.messageId} for trainer nobody: unknown trainer ` +
            `"nobody": it has never moved, and only a trainer that moved once can join or leave a ` +
            `group (move it first)`,
          commandIds: [unknown.messageId],
          userId: 'nobody',
          // Every line logged while a message is handled names it and its trace.
          messageId: unknown.messageId,
          messageType: 'ChangeGroupCommand',
          correlationId: unknown.messageId,
          trace_id: traceId,
        }),
        expect.objectContaining({
          msg: `rejected MoveTrainerCommand ${noDirection.messageId} for trainer ash: cannot start moving without a direction`,
          userId: 'ash',
        }),
      ]),
    );
  });

  it('rejects a move that expired on the bus as expired, and never applies it, nor a later copy', async () => {
    // Accepted 66 s ago with command-api's default COMMAND_DEADLINE_MS, as after a stalled bus:
    // past its deadline by more than COMMAND_CLOCK_SKEW_MS.
    const accepted = new Date(Date.now() - 66_000).toISOString();
    const late = move('expiring', 'start');
    const expired = withDeadline(
      { ...late, metadata: { ...late.metadata, timestamp: accepted } },
      60_000,
    );
    // The same command id built anew, within a later deadline: a retry that got a fresh time.
    const copy = withDeadline(late, 60_000);
    const fresh = withDeadline(move('expiring', 'start', 0, 1), 60_000);
    await send(expired, copy, fresh);
    expect(await completed(expired.messageId)).toMatchObject({
      status: 'rejected',
      reason: 'expired: not handled within 60000 ms of being accepted',
    });
    expect(await completed(fresh.messageId)).toMatchObject({ status: 'processed', version: 1 });
    const events = await store.readStream('trainer-expiring');
    expect(events.map((event) => event.metadata.causationId)).toEqual([fresh.messageId]);
    // Its warn line is logged in the command's context: it names the command in fields too.
    const line = await until(
      async () =>
        instances
          .flatMap((instance) => instance.stdoutLines())
          .find((l) => l.includes('expired unhandled') && l.includes(expired.messageId)),
      'the expiry logged',
    );
    expect(JSON.parse(line)).toMatchObject({
      messageId: expired.messageId,
      messageType: 'MoveTrainerCommand',
      correlationId: expired.messageId,
    });
  });

  it('applies a move past its deadline by less than COMMAND_CLOCK_SKEW_MS', async () => {
    // 0.5 s past the deadline by this host's clock, which may run 5 s ahead of the sender's:
    // handled within 4.5 s, however loaded the machine.
    const sent = move('skewed', 'start');
    const command = withDeadline(
      {
        ...sent,
        metadata: { ...sent.metadata, timestamp: new Date(Date.now() - 60_500).toISOString() },
      },
      60_000,
    );
    await send(command);
    expect(await completed(command.messageId)).toMatchObject({ status: 'processed', version: 1 });
  });

  it("dead-letters once a command whose outcome cannot be recorded, and goes on with its trainer's next", async () => {
    const [instance] = instances;
    const stuck = move('erika', 'start');
    // Its status key holds a list: every write of its outcome fails (WRONGTYPE), for good.
    await redis.rpush(`${keyPrefix}command-status:${stuck.messageId}`, 'not a status');
    const next = move('erika', 'stop');
    await send(stuck, next);
    // Per-key order: `next` waits for `stuck` to be settled, which must happen.
    expect(
      await until(
        async () => {
          const status = await statuses.get(next.messageId);
          return status?.status === 'processed' ? status : undefined;
        },
        "erika's next command",
        30_000,
      ),
    ).toMatchObject({ status: 'processed' });
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // redeliveries would come by now
    const response = await fetch(`${instance!.url}/admin/dead-letters?limit=1000`, {
      headers: { Authorization: 'Bearer admin-token-0123456789' },
    });
    const { letters } = (await response.json()) as { letters: { envelope?: Envelope }[] };
    expect(letters.filter((letter) => letter.envelope?.messageId === stuck.messageId)).toHaveLength(
      1,
    );
  });

  it('dead-letters an undecodable command with its reason, counts it, and keeps the stream flowing', async () => {
    const [instance] = instances;
    const admin = { Authorization: 'Bearer admin-token-0123456789' };
    const topic = naming.command('MoveTrainerCommand');
    // Straight into partition 0 of the command stream, as a misbehaving producer would.
    await redis.xadd(`${keyPrefix}${topic}:normal:0`, '*', 'key', 'x', 'msg', 'not json at all');
    const letter = await until(async () => {
      const response = await fetch(`${instance!.url}/admin/dead-letters?handler=(decoder)`, {
        headers: admin,
      });
      const { letters } = (await response.json()) as {
        letters: { raw?: string; reason: string; originalTopic: string }[];
      };
      return letters.find((l) => l.raw === 'not json at all');
    }, 'the poison dead letter');
    expect(letter.originalTopic).toBe(topic);
    expect(letter.reason).toMatch(/json/i);
    const metrics = await (await fetch(`${instance!.url}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(`causeway_messages_dead_lettered_total\\{[^}]*handler="\\(decoder\\)"[^}]*\\} 1`),
    );
    const after = move('koga', 'start');
    await send(after);
    expect(await completed(after.messageId)).toMatchObject({ status: 'processed' });
  });

  it('with two instances, 100 concurrent moves of one trainer end at version 100 with no lost update', async () => {
    await start('trainer-b');
    const commands = Array.from({ length: 100 }, (_, i) =>
      move('misty', i % 3 === 2 ? 'stop' : 'start', Math.cos(i), Math.sin(i)),
    );
    await Promise.all(commands.map((command) => send(command)));
    const outcomes = await allCompleted(
      commands.map((command) => command.messageId),
      120_000,
    );
    expect(outcomes.every((outcome) => outcome.status === 'processed')).toBe(true);
    const events = await store.readStream('trainer-misty');
    expect(events).toHaveLength(100);
    expect(events.at(-1)!.version).toBe(100);
    expect(new Set(events.map((event) => event.metadata.causationId))).toEqual(
      new Set(commands.map((command) => command.messageId)),
    );
    // Every move was decided on the state left by the one before it: each stored position is
    // where the previous events put the trainer at that move's time.
    const decider = trainerDecider({ speed: 100 });
    let state = decider.initialState();
    for (const event of events as StoredEvent<TrainerEvent['data']>[]) {
      const moved = event.data as { position: { x: number; y: number }; timestamp: number };
      const expected = positionAt(state, moved.timestamp);
      expect(moved.position.x).toBeCloseTo(expected.x, 6);
      expect(moved.position.y).toBeCloseTo(expected.y, 6);
      state = foldEvents(decider, [event as unknown as TrainerEvent], state);
    }
    // And every event reaches the bus.
    await until(
      async () => (events.every((event) => onBus.has(event.messageId)) ? true : undefined),
      'all 100 events on the bus',
    );
  });

  it("with two instances, a new trainer's move and the group join sent right after it through command-api are processed in that order", async () => {
    // The real sender: command-api, with the same TOPIC_PREFIX (and so the same key prefix).
    const api = await startServiceProcess({
      appDir: path.join(appDir, '..', 'command-api'),
      env: {
        REDIS_URL: ns.redisUrl,
        KAFKA_BROKERS: serverAddress('kafka'),
        ADMIN_TOKEN: 'admin-token-0123456789',
        JWT_SECRET: jwtSecret,
        TOPIC_PREFIX: prefix,
        RATE_LIMIT_POINTS: '10000',
        LOG_LEVEL: 'warn',
      },
    });
    instances.push(api);
    await waitForStatus(`${api.url}/health/ready`, 200, 60_000);
    const tokens = new TokenService({ secret: jwtSecret });
    const call = async (method: string, url: string, token: string, body?: unknown) => {
      const response = await fetch(url, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(body !== undefined && { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      expect(response.status).toBe(202);
      return ((await response.json()) as { commandId: string }).commandId;
    };
    // Ten times: it is about order, which a race may get right by luck once.
    const trainers = Array.from({ length: 10 }, (_, i) => `newbie-${i}-${ns.id}`);
    const sent = await Promise.all(
      trainers.map(async (trainerId) => {
        const { token } = await tokens.issue(trainerId, { trainerIds: [] });
        const moveId = await call('POST', `${api.url}/api/trainers/${trainerId}/move`, token, {
          directionX: 1,
          directionY: 0,
          action: 'start',
        });
        const joinId = await call('PUT', `${api.url}/api/trainers/${trainerId}/groups/g`, token);
        return { trainerId, moveId, joinId };
      }),
    );
    const outcomes = await allCompleted(
      sent.flatMap(({ moveId, joinId }) => [moveId, joinId]),
      60_000,
    );
    expect(outcomes.filter((outcome) => outcome.status !== 'processed')).toEqual([]);
    for (const { trainerId, moveId, joinId } of sent) {
      expect(await statuses.get(moveId)).toMatchObject({ status: 'processed', version: 1 });
      // Walking into its first group: the join stops it first.
      expect(await statuses.get(joinId)).toMatchObject({ status: 'processed', version: 3 });
      expect((await store.readStream(`trainer-${trainerId}`)).map((e) => e.type)).toEqual([
        'TrainerMovedEvent',
        'TrainerMovedEvent',
        'TrainerJoinedGroupEvent',
      ]);
    }
  });

  it('with two instances and no projection-worker, a trainer that left a group is no recipient of the moves its members make after the leave', async () => {
    // The apps' GroupMembers read model (READ_MODEL_STORE=redis), which no projection-worker
    // writes here: only the instances' write-through.
    const groups = new RedisGroupMembers({ client: redis, keyPrefix });
    const group = `g-${ns.id}`;
    const [leaver, stayer] = [`leaver-${ns.id}`, `stayer-${ns.id}`];
    const handled = async (...commands: Envelope[]) => {
      for (const command of commands) {
        await send(command);
        expect(await completed(command.messageId)).toMatchObject({ status: 'processed' });
      }
    };
    await handled(move(leaver, 'stop'), move(stayer, 'stop'));
    await handled(changeGroup(leaver, group, 'join'), changeGroup(stayer, group, 'join'));
    // Written through by the instances: the members are known without projection-worker.
    const joined = await groups.membersOf(group);
    // What projection-worker does while it runs, until it is killed: it applies the joins (a
    // no-op after the write-through) and notifies the stayer's first move in the group (the
    // fast path leaves that one to it, ADR 007 session 9).
    const appliedByWorker: boolean[] = [];
    for (const trainerId of [leaver, stayer])
      appliedByWorker.push(
        await groups.apply({ trainerId, groupId: group, action: 'join', version: 2 }),
      );
    await handled(move(stayer, 'stop'));
    const projection = new PositionNotifier(groups, notifications, 'projection-worker');
    const [, , inGroup] = await store.readStream(`trainer-${stayer}`);
    await projection.notify(inGroup as Envelope<TrainerMovedEvent>);
    // projection-worker is down from here on. The leaver leaves; then the stayer moves.
    await handled(changeGroup(leaver, group, 'leave'));
    await handled(move(stayer, 'start', 0, 1));
    const [, , , after] = await store.readStream(`trainer-${stayer}`);
    const notified = await until(async () => {
      const entries = await notifications.read(undefined, 10_000);
      return entries.find(
        (entry) => entry.notification.notificationId === `position:${after!.messageId}`,
      );
    }, "the stayer's eager position.update");
    expect(notified.notification).toMatchObject({
      targetType: 'group',
      targetIds: [group],
      recipients: [stayer],
      params: { trainerId: stayer, isMoving: true },
    });
    expect(['trainer-a', 'trainer-b']).toContain(notified.notification.serverId);
    expect(joined).toEqual([leaver, stayer].sort());
    expect(appliedByWorker).toEqual([false, false]);
    expect(await groups.membersOf(group)).toEqual([stayer]);
    expect(await groups.groupsOf(leaver)).toEqual([]);
  });

  it("still processes commands sent to a type's own topic, as before a trainer's commands shared one (upgrade)", async () => {
    const legacy = topicNaming(prefix);
    const first = move('cynthia', 'stop');
    const join = changeGroup('cynthia', 'champions', 'join');
    await publisher.publish(legacy.command(first.type), [first]);
    expect(await completed(first.messageId)).toMatchObject({ status: 'processed', version: 1 });
    await publisher.publish(legacy.command(join.type), [join]);
    expect(await completed(join.messageId)).toMatchObject({ status: 'processed', version: 2 });
  });

  it('loses no command when one of two instances is SIGKILLed mid-way', async () => {
    const [a] = instances;
    const trainers = ['brock', 'gary', 'may', 'dawn', 'iris'];
    const commands = trainers.flatMap((trainerId) =>
      Array.from({ length: 20 }, (_, i) => move(trainerId, i % 2 ? 'stop' : 'start', 1, i)),
    );
    const ids = commands.map((command) => command.messageId);
    await Promise.all(commands.map((command) => send(command)));
    await until(async () => {
      const done = await Promise.all(ids.map((id) => statuses.get(id)));
      return done.filter((status) => status?.status === 'processed').length >= 15
        ? true
        : undefined;
    }, 'some commands to be processed');
    await a!.stop('SIGKILL');
    // The survivor takes over the dead instance's partitions once its leases lapse, and redoes
    // what was in flight there once the dedup claim expires.
    const outcomes = await allCompleted(ids, 200_000);
    expect(outcomes.filter((outcome) => outcome.status !== 'processed')).toEqual([]);
    for (const trainerId of trainers) {
      const events = await store.readStream(`trainer-${trainerId}`);
      expect(events).toHaveLength(20);
      expect(new Set(events.map((event) => event.metadata.causationId)).size).toBe(20);
    }
    // The forwarder lease passed to the survivor: events appended after the kill reach the bus.
    const all = (
      await Promise.all(trainers.map((trainerId) => store.readStream(`trainer-${trainerId}`)))
    ).flat();
    await until(
      async () => (all.every((event) => onBus.has(event.messageId)) ? true : undefined),
      'every event on the bus',
    );
  });

  it('creates the indexes of the MongoDB group read model it writes through at start', async () => {
    // Alone on its topics: it must not take commands of the instances above.
    const alone = await start('trainer-rm', {
      READ_MODEL_STORE: 'mongodb',
      TOPIC_PREFIX: `${prefix}rm`,
    });
    const groupMembers = mongo.client.db!.collection('group_members');
    // Created with the stores, in the background of the start (as the event store's).
    const indexes = await until(
      async () => {
        const found = await groupMembers.indexes().catch(() => []);
        return found.length > 1 ? found : undefined;
      },
      'the indexes of group_members',
      20_000,
    );
    expect(indexes.map((index) => index.key)).toEqual(
      expect.arrayContaining([{ trainerId: 1, groupId: 1, version: -1 }, { groupId: 1 }]),
    );
    await alone.stop();
  });

  it('rejects a join of a group with GROUP_MAX_MEMBERS members, counted in the MongoDB read model, and admits one once a member left', async () => {
    // Alone on topics and keys of its own, with groups of at most 2.
    const own = `${prefix}cap`;
    const alone = await start('trainer-cap', {
      READ_MODEL_STORE: 'mongodb',
      TOPIC_PREFIX: own,
      GROUP_MAX_MEMBERS: '2',
    });
    const ownNaming = topicNaming(own, { commandTopics: COMMAND_TOPICS });
    const ownPublisher = new RedisStreamsPublisher({
      client: redis,
      serializer,
      keyPrefix: `${own}:`,
    });
    const ownStatuses = new RedisCommandStatusStore(redis, { keyPrefix: `${own}:` });
    const outcome = async (command: Envelope) => {
      await ownPublisher.publish(ownNaming.command(command.type), [command]);
      return until(async () => {
        const status = await ownStatuses.get(command.messageId);
        return status && status.status !== 'accepted' ? status : undefined;
      }, `the outcome of ${command.messageId}`);
    };
    try {
      const group = `room-${ns.id}`;
      const [first, second, third] = ['cap-1', 'cap-2', 'cap-3'].map((id) => `${id}-${ns.id}`);
      for (const trainerId of [first!, second!, third!])
        expect(await outcome(move(trainerId, 'stop'))).toMatchObject({ status: 'processed' });
      for (const trainerId of [first!, second!])
        expect(await outcome(changeGroup(trainerId, group, 'join'))).toMatchObject({
          status: 'processed',
          version: 2,
        });
      expect(await outcome(changeGroup(third!, group, 'join'))).toMatchObject({
        status: 'rejected',
        reason: `group "${group}" has 2 members, the most a group may have: join when one has left`,
      });
      expect((await store.readStream(`trainer-${third}`)).map((event) => event.type)).toEqual([
        'TrainerMovedEvent',
      ]);
      expect(await outcome(changeGroup(first!, group, 'leave'))).toMatchObject({
        status: 'processed',
      });
      expect(await outcome(changeGroup(third!, group, 'join'))).toMatchObject({
        status: 'processed',
        version: 2,
      });
    } finally {
      await ownPublisher.close();
      const keys = await redis.keys(`${own}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await alone.stop();
    }
  });
});
