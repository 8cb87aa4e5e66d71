import { freePort, RedisServerProcess, testNamespace } from '@causeway/testkit';
import { type Delivery } from '../src';
import { runProbes } from '../src/health';
import {
  RedisStreamsPublisher,
  RedisStreamsSubscriber,
  StreamKeys,
  redisConnection,
} from '../src/redis';
import { conformanceMessage, conformanceSerializer } from '../src/testing';

/*
 * Redis loses its data while subscribers run (a server without persistence restarted, or
 * FLUSHALL): streams, consumer groups, leases, member sets and fan-out registries are gone, and
 * publishers recreate the streams with XADD. The running subscribers must recreate their groups
 * and carry on — every message published afterwards handled — and their health probe must say
 * so; a subscription that cannot make progress must show as down. Each test has a
 * redis-server of its own (the shared test Redis is never wiped).
 */
jest.setTimeout(60_000);

const serializer = conformanceSerializer();
const n = (delivery: Delivery) => (delivery.envelope.data as { n: number }).n;

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Setup {
  server: RedisServerProcess;
  admin: ReturnType<typeof redisConnection>;
  client: ReturnType<typeof redisConnection>;
  publisher: RedisStreamsPublisher;
  subscriber: RedisStreamsSubscriber;
  keyPrefix: string;
}

const setups: Setup[] = [];

afterEach(async () => {
  for (const setup of setups.splice(0)) {
    await setup.subscriber.close().catch(() => undefined);
    await setup.publisher.close().catch(() => undefined);
    await setup.client.close().catch(() => undefined);
    await setup.admin.close().catch(() => undefined);
    await setup.server.remove();
  }
});

async function setUp(extra: Partial<ConstructorParameters<typeof RedisStreamsSubscriber>[0]> = {}) {
  const server = new RedisServerProcess(await freePort());
  await server.start();
  const { keyPrefix } = testNamespace('wipe');
  const admin = redisConnection({ url: server.url, maxReconnectDelayMs: 50 });
  const client = redisConnection({ url: server.url, maxReconnectDelayMs: 50 });
  await admin.open();
  await client.open();
  const layout = { keyPrefix, partitions: 4 };
  const publisher = new RedisStreamsPublisher({ ...layout, client: client.client, serializer });
  const subscriber = new RedisStreamsSubscriber({
    ...layout,
    client: client.client,
    serializer,
    redeliveryDelayMs: 20,
    blockMs: 100,
    heartbeatMs: 100,
    leaseTtlMs: 1_000,
    claimIdleMs: 500,
    ...extra,
  });
  const setup = { server, admin, client, publisher, subscriber, keyPrefix };
  setups.push(setup);
  return setup;
}

/** Publishes until it succeeds (the client may still be reconnecting). */
async function publish(
  publisher: RedisStreamsPublisher,
  topic: string,
  from: number,
  count: number,
) {
  const keys = ['a', 'b', 'c', 'd', 'e'];
  const batch = Array.from({ length: count }, (_, i) =>
    conformanceMessage(from + i, keys[(from + i) % keys.length]),
  );
  for (let tries = 0; ; tries++) {
    try {
      await publisher.publish(topic, batch);
      return;
    } catch (error) {
      if (tries > 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function pinged(setup: Setup): Promise<void> {
  await until(
    () =>
      setup.admin.client.ping().then(
        () => true,
        () => false,
      ),
    'the admin connection to reconnect',
  );
}

const probeOf = (subscriber: RedisStreamsSubscriber) => subscriber.probe();

describe.each([
  { startFrom: 'earliest', kind: 'competing group' },
  { startFrom: 'latest', kind: 'fan-out group of one instance' },
] as const)(
  'redis-streams after Redis lost its data (startFrom $startFrom: $kind)',
  ({ startFrom }) => {
    const subscribeOptions = (consumer: string) => ({
      // A fan-out group is named after its consumer (isFanOutGroup).
      group: startFrom === 'latest' ? `fan.${consumer}` : 'g',
      consumer,
      maxInFlight: 4,
      startFrom,
    });

    it('recreates its groups when the server restarts empty, and handles everything published afterwards', async () => {
      const setup = await setUp();
      const seen = new Set<number>();
      await setup.subscriber.subscribe(['wiped'], subscribeOptions('c1'), async (d) => {
        seen.add(n(d));
      });
      await publish(setup.publisher, 'wiped', 0, 20);
      await until(() => seen.size === 20, 'the messages before the wipe');
      // shutdown nosave + an empty server on the same port (the server has no persistence).
      await setup.server.stop('SIGKILL');
      await setup.server.start();
      await pinged(setup);
      const after = 200;
      for (let i = 0; i < after; i += 20) await publish(setup.publisher, 'wiped', 1_000 + i, 20);
      await until(
        () => Array.from({ length: after }, (_, i) => 1_000 + i).every((x) => seen.has(x)),
        'every message published after the wipe',
      );
      const [result] = await runProbes([probeOf(setup.subscriber)]);
      expect(result).toMatchObject({ name: 'redis-streams', healthy: true });
      // The group exists again on every stream of the topic, every priority lane included.
      const streams = new StreamKeys({ keyPrefix: setup.keyPrefix, partitions: 4 }).streamsOf(
        'wiped',
      );
      for (const stream of streams) {
        const groups = (await setup.admin.client.xinfo('GROUPS', stream)) as unknown[][];
        expect(groups.map((g) => String(g[1]))).toEqual([subscribeOptions('c1').group]);
      }
    });

    it('recreates its groups after FLUSHALL, and handles everything published afterwards', async () => {
      const setup = await setUp();
      const seen = new Set<number>();
      await setup.subscriber.subscribe(['flushed'], subscribeOptions('c1'), async (d) => {
        seen.add(n(d));
      });
      await publish(setup.publisher, 'flushed', 0, 10);
      await until(() => seen.size === 10, 'the messages before the flush');
      await setup.admin.client.flushall();
      const after = 100;
      for (let i = 0; i < after; i += 10) await publish(setup.publisher, 'flushed', 1_000 + i, 10);
      await until(
        () => Array.from({ length: after }, (_, i) => 1_000 + i).every((x) => seen.has(x)),
        'every message published after FLUSHALL',
      );
      const [result] = await runProbes([probeOf(setup.subscriber)]);
      expect(result).toMatchObject({ name: 'redis-streams', healthy: true });
    });
  },
);

describe('redis-streams subscriber probe', () => {
  it('is up while partitions are active', async () => {
    const setup = await setUp();
    await setup.subscriber.subscribe(['up'], { group: 'g', consumer: 'c1' }, async () => undefined);
    const [result] = await runProbes([probeOf(setup.subscriber)]);
    expect(result).toMatchObject({ name: 'redis-streams', healthy: true });
  });

  it('reports down, naming the partitions, while a partition it is assigned cannot become active', async () => {
    const setup = await setUp({ stuckAfterMs: 500, joinTimeoutMs: 200 });
    // A killed consumer keeps the lease of every partition (60 s): ours stay assigned, never active.
    const blocker = new RedisStreamsSubscriber({
      keyPrefix: setup.keyPrefix,
      partitions: 4,
      client: setup.client.client,
      serializer,
      heartbeatMs: 100,
      leaseTtlMs: 60_000,
      memberTtlMs: 300,
      blockMs: 100,
    });
    await blocker.subscribe(['stuck'], { group: 'g', consumer: 'blocker' }, async () => undefined);
    blocker.kill();
    await setup.subscriber.subscribe(
      ['stuck'],
      { group: 'g', consumer: 'c1' },
      async () => undefined,
    );
    await until(async () => {
      const [result] = await runProbes([probeOf(setup.subscriber)]);
      return result?.healthy === false;
    }, 'the probe to report down');
    const [result] = await runProbes([probeOf(setup.subscriber)]);
    expect(result?.error).toMatch(/stuck.*not active/);
  });

  it('reports down while Redis is unreachable, and up again once it is back', async () => {
    const setup = await setUp({ stuckAfterMs: 500 });
    const seen = new Set<number>();
    await setup.subscriber.subscribe(['away'], { group: 'g', consumer: 'c1' }, async (d) => {
      seen.add(n(d));
    });
    await setup.server.stop('SIGKILL');
    await until(async () => {
      const [result] = await runProbes([probeOf(setup.subscriber)]);
      return result?.healthy === false;
    }, 'the probe to report down');
    const [down] = await runProbes([probeOf(setup.subscriber)]);
    expect(down?.error).toMatch(/group g, consumer c1: no heartbeat succeeded/);
    await setup.server.start();
    await pinged(setup);
    await publish(setup.publisher, 'away', 0, 20);
    await until(() => seen.size === 20, 'the messages published once it is back');
    await until(async () => {
      const [result] = await runProbes([probeOf(setup.subscriber)]);
      return result?.healthy === true;
    }, 'the probe to report up again');
  });
});

describe('redis-streams fan-out group destroyed while its streams stay', () => {
  it('recreates it where it was: new messages handled, the history not read again', async () => {
    const setup = await setUp();
    const counts = new Map<number, number>();
    const options = { group: 'fan.c1', consumer: 'c1', startFrom: 'latest' as const };
    await setup.subscriber.subscribe(['kept'], options, async (d) => {
      counts.set(n(d), (counts.get(n(d)) ?? 0) + 1);
    });
    await publish(setup.publisher, 'kept', 0, 30);
    await until(() => counts.size === 30, 'the first messages');
    const streams = new StreamKeys({ keyPrefix: setup.keyPrefix, partitions: 4 }).streamsOf('kept');
    for (const stream of streams) await setup.admin.client.xgroup('DESTROY', stream, 'fan.c1');
    await publish(setup.publisher, 'kept', 100, 30);
    await until(() => counts.size === 60, 'the messages published after the group was destroyed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([...counts.values()].every((count) => count === 1)).toBe(true);
  });
});
