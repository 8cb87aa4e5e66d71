import path from 'node:path';
import Redis from 'ioredis';
import { type Envelope, MessageFactory, topicNaming } from '@causeway/cqrs-core';
import { mongoConnection } from '@causeway/cqrs-core/mongodb';
import { RedisStreamsPublisher } from '@causeway/cqrs-core/redis';
import { contractsSerializer, type CommandStatus } from '@causeway/contracts';
import { COMMAND_TOPICS, RedisCommandStatusStore } from '@causeway/platform';
import {
  freePort,
  type ServiceProcess,
  startServiceProcess,
  testNamespace,
  waitForStatus,
} from '@causeway/testkit';

// A trainer-service instance that starts while its stores cannot be used yet (MongoDB away, or
// slow to answer under load) must not take a share of the command partitions from the instances
// already running: it could only defer their commands until its stores are ready. Seen in a
// rolling restart under load: commands of the partitions the new instance took waited for its
// start-up, while every instance's /health/ready said 200.
jest.setTimeout(120_000);

const ns = testNamespace('trainerjoin');
const prefix = ns.id;
const keyPrefix = `${prefix}:`;
const naming = topicNaming(prefix, { commandTopics: COMMAND_TOPICS });
const serializer = contractsSerializer();
const factory = new MessageFactory();
const appDir = path.join(__dirname, '..');

let redis: Redis;
let publisher: RedisStreamsPublisher;
let statuses: RedisCommandStatusStore;
let mongo: ReturnType<typeof mongoConnection>;
const instances: ServiceProcess[] = [];

async function start(name: string, mongoUri: string): Promise<ServiceProcess> {
  const service = await startServiceProcess({
    appDir,
    env: {
      REDIS_URL: ns.redisUrl,
      MONGODB_URI: mongoUri,
      ADMIN_TOKEN: 'admin-token-0123456789',
      TOPIC_PREFIX: prefix,
      INSTANCE_ID: name,
      LOG_LEVEL: 'info',
    },
    timeoutMs: 60_000,
  });
  instances.push(service);
  return service;
}

function move(trainerId: string): Envelope {
  return factory.command(
    'MoveTrainerCommand',
    { trainerId, directionX: 1, directionY: 0, action: 'start', timestamp: Date.now() },
    { aggregateId: trainerId, causedBy: null, metadata: { issuerId: trainerId } },
  );
}

/** The statuses of `ids` once all are settled, or as they are when `timeoutMs` has passed. */
async function outcomes(ids: readonly string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await Promise.all(ids.map((id) => statuses.get(id)));
    const open = all.filter((status) => !status || status.status === 'accepted');
    if (open.length === 0 || Date.now() > deadline) return { all, open: open.length };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Polls `check` until it gives a truthy value, which it returns; fails naming `what` after 30 s. */
async function eventually<T>(check: () => T | Promise<T>, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The members of every consumer group of this namespace, by its members key (a sorted set). */
async function membersByGroup(): Promise<Map<string, string[]>> {
  const keys = await redis.keys(`${keyPrefix}*:group:*:members`);
  const groups = new Map<string, string[]>();
  for (const key of keys) groups.set(key, await redis.zrange(key, 0, -1));
  return groups;
}

beforeAll(async () => {
  redis = new Redis(ns.redisUrl);
  publisher = new RedisStreamsPublisher({ client: redis, serializer, keyPrefix });
  statuses = new RedisCommandStatusStore(redis, { keyPrefix });
  mongo = mongoConnection({ uri: ns.mongoUri(), name: 'verifier' });
  await mongo.open();
});

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.stop('SIGKILL')));
  await publisher?.close();
  const keys = await redis.keys(`${keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await mongo.client.dropDatabase();
  await mongo.close();
});

describe('trainer-service joins the command group only once its stores are ready', () => {
  it('an instance whose MongoDB cannot be reached takes no commands from a running one, and is not ready', async () => {
    const healthy = await start('join-ready', ns.mongoUri());
    await waitForStatus(`${healthy.url}/health/ready`, 200, 60_000);

    // Nothing listens on this port: the instance starts, but its stores never become ready.
    const nowhere = `mongodb://127.0.0.1:${await freePort()}/${ns.database}?serverSelectionTimeoutMS=1000`;
    const starting = await start('join-stuck', nowhere);
    // Waited for, not timed: the stuck instance's router runs (where it joined the command
    // group before it waited for its stores) and its MongoDB has been found unreachable.
    await eventually(
      () =>
        starting.stdoutLines().some((line) => line.includes('router running')) &&
        starting.stdoutLines().some((line) => line.includes('unreachable')),
      'the stuck instance to log "router running" and "mongodb … unreachable"',
    );
    // It is no live member of the command groups (a member heartbeats as it joins): the
    // healthy instance keeps every partition.
    const commandGroups = [...(await membersByGroup())].filter(([key]) =>
      key.includes(':group:commands.'),
    );
    expect(commandGroups.length).toBeGreaterThan(0);
    for (const [, members] of commandGroups) expect(members).toEqual(['join-ready']);

    const commands = Array.from({ length: 40 }, (_, i) => move(`joiner-${i}-${ns.id}`));
    const sentAt = Date.now();
    for (const command of commands)
      await publisher.publish(naming.command(command.type), [command]);
    const { all, open } = await outcomes(
      commands.map((command) => command.messageId),
      15_000,
    );
    const tookMs = Date.now() - sentAt;

    // Every command handled, by the instance that can handle it, within seconds.
    expect({ open, tookMsUnder10s: tookMs < 10_000 }).toEqual({ open: 0, tookMsUnder10s: true });
    expect((all as CommandStatus[]).every((status) => status.status === 'processed')).toBe(true);

    // The starting instance says why it is not ready.
    const ready = await fetch(`${starting.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain('trainer-commands');
    // Its log says when it takes commands: the healthy one's does, the stuck one's not yet.
    const taking = 'taking MoveTrainerCommand and ChangeGroupCommand: the stores are ready';
    expect(healthy.stdoutLines().some((line) => line.includes(taking))).toBe(true);
    expect(starting.stdoutLines().some((line) => line.includes(taking))).toBe(false);
  });
});
