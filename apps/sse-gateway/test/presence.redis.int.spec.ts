import { type EventBus, type Envelope } from '@causeway/cqrs-core';
import { testNamespace } from '@causeway/testkit';
import { ConnectionEventsPublisher } from '../src/gateway/connection-events.publisher';
import { PresenceTracker } from '../src/presence/presence.tracker';
import { describePresenceRegistry } from '../src/presence/presence-registry.conformance';
import { RedisPresenceRegistry } from '../src/presence/redis.presence-registry';
import { namespaceRedis } from './namespace-redis.fixture';
import { until } from './sse.client';

const ns = testNamespace('presence');
const redis = namespaceRedis(ns);
let run = 0;

describePresenceRegistry(
  'redis',
  async ({ ttlMs }) =>
    new RedisPresenceRegistry(redis, { keyPrefix: `${ns.keyPrefix}${run++}:`, ttlMs }),
);

// A rolling update: instances of a release before session 47 wrote `{userId, connectedAt}` (no
// `trainerIds`), and whatever else a connections hash may hold (a hand edit, another writer)
// must not reach GET /api/presence, whose answer sorts and counts by userId.
describe('presence entries written by an earlier release, or by no release', () => {
  it('reads an entry without trainerIds as one of no trainer besides the user’s own, and skips one of neither shape', async () => {
    const keyPrefix = `${ns.keyPrefix}earlier:`;
    const presence = new RedisPresenceRegistry(redis, { keyPrefix, ttlMs: 3_600_000 });
    await presence.heartbeat('gw-new');
    await presence.add('gw-new', {
      connectionId: 'c-new',
      userId: 'boss',
      connectedAt: 20,
      trainerIds: ['onix'],
    });
    // As the earlier release's `add` wrote it, next to what no release writes.
    await presence.heartbeat('gw-old');
    await redis.hset(`${keyPrefix}presence:connections:gw-old`, {
      'c-old': JSON.stringify({ userId: 'ash', connectedAt: 10 }),
      'c-string': JSON.stringify('ash'),
      'c-null': 'null',
      'c-no-user': JSON.stringify({ connectedAt: 11 }),
      'c-bad-time': JSON.stringify({ userId: 'misty', connectedAt: 'yesterday' }),
      'c-not-json': '{',
    });
    const old = { connectionId: 'c-old', userId: 'ash', connectedAt: 10 };
    expect(await presence.list()).toEqual([
      {
        serverId: 'gw-new',
        connections: [
          { connectionId: 'c-new', userId: 'boss', connectedAt: 20, trainerIds: ['onix'] },
        ],
      },
      { serverId: 'gw-old', connections: [old] },
    ]);
    // The instance, upgraded, replaces its entries: the earlier one is reported closed as read.
    const replaced = await presence.replace('gw-old', []);
    expect(replaced.dropped).toEqual([old]);
  });
});

describe('ConnectionClosed for the connections of a killed gateway', () => {
  it('is published once, by one of the instances that sweep its expired presence', async () => {
    const ttlMs = 300;
    const registry = () =>
      new RedisPresenceRegistry(redis, { keyPrefix: `${ns.keyPrefix}killed:`, ttlMs });
    // gw-dead had two streams open when it was killed: it never beats or removes them again.
    const dead = registry();
    await dead.heartbeat('gw-dead');
    await dead.add('gw-dead', { connectionId: 'c1', userId: 'ash', connectedAt: 1 });
    await dead.add('gw-dead', { connectionId: 'c2', userId: 'misty', connectedAt: 2 });

    const published: Envelope[] = [];
    const bus = {
      publish: async (envelopes: Envelope[]) => void published.push(...envelopes),
    } as unknown as EventBus;
    let sweeps = 0;
    const trackers = ['gw-a', 'gw-b', 'gw-c'].map((serverId) => {
      const presence = registry();
      const sweep = presence.sweep.bind(presence);
      presence.sweep = () => {
        sweeps += 1;
        return sweep();
      };
      const events = new ConnectionEventsPublisher(bus, serverId, (message) => {
        throw new Error(message);
      });
      return new PresenceTracker(
        presence,
        serverId,
        () => [],
        (message) => {
          throw new Error(message);
        },
        (instance) => events.expired(instance),
      );
    });
    for (const tracker of trackers) tracker.start();
    try {
      await until(() => published.length >= 2, 'the ConnectionClosed events', 10_000);
      // Every tracker sweeps a few more times: nobody publishes them again.
      const after = sweeps;
      await until(() => sweeps >= after + 2 * trackers.length, 'more sweeps', 10_000);
      expect(
        published
          .map((envelope) => ({
            type: envelope.type,
            data: envelope.data as Record<string, unknown>,
          }))
          .map(({ type, data }) => ({
            type,
            userId: data.userId,
            connectionId: data.connectionId,
            serverId: data.serverId,
            reason: data.reason,
          }))
          .sort((a, b) => String(a.connectionId).localeCompare(String(b.connectionId))),
      ).toEqual([
        {
          type: 'ConnectionClosedEvent',
          userId: 'ash',
          connectionId: 'c1',
          serverId: 'gw-dead',
          reason: 'instance-expired',
        },
        {
          type: 'ConnectionClosedEvent',
          userId: 'misty',
          connectionId: 'c2',
          serverId: 'gw-dead',
          reason: 'instance-expired',
        },
      ]);
    } finally {
      await Promise.all(trackers.map((tracker) => tracker.stop()));
    }
  });
});
