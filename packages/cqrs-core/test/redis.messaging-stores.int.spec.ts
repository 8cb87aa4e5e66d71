import Redis from 'ioredis';
import { DeadLetterCursorError } from '../src/dead-letters';
import { testNamespace } from '@causeway/testkit';
import {
  describeDeadLetterQueueConformance,
  describeDeduplicationStoreConformance,
  describeForwardLedgerConformance,
  describeLeaseConformance,
  testEnvelope,
} from '../src/testing';
import {
  RedisDeadLetterQueue,
  RedisDeduplicationStore,
  RedisForwardLedger,
  RedisLease,
  RedisStreamsPublisher,
  RedisStreamsSubscriber,
} from '../src/redis';

const ns = testNamespace('redisstores');
const redis = new Redis(ns.redisUrl);
let run = 0;

afterAll(async () => {
  const keys = await redis.keys(`${ns.keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describeDeadLetterQueueConformance(
  'redis',
  async (settings) =>
    new RedisDeadLetterQueue(redis, { keyPrefix: `${ns.keyPrefix}${run++}:`, ...settings }),
  {
    // Replays go over Redis Streams: `replayFor` must survive its wire.
    transport: async (serializer) => {
      const layout = { keyPrefix: `${ns.keyPrefix}streams${run++}:`, partitions: 2 };
      const publisher = new RedisStreamsPublisher({ ...layout, client: redis, serializer });
      const subscribers: RedisStreamsSubscriber[] = [];
      return {
        publisher,
        subscriber: () => {
          const subscriber = new RedisStreamsSubscriber({
            ...layout,
            client: redis,
            serializer,
            redeliveryDelayMs: 20,
            blockMs: 100,
            heartbeatMs: 100,
          });
          subscribers.push(subscriber);
          return subscriber;
        },
        close: async () => {
          await Promise.all(subscribers.map((subscriber) => subscriber.close()));
          await publisher.close();
        },
      };
    },
  },
);

describe('RedisDeadLetterQueue reads a page at a time', () => {
  /** The same client, counting the entries XRANGE returns and the XDEL calls. */
  function counted() {
    const seen = { entries: 0, xranges: 0, xdels: 0 };
    const client = new Proxy(redis, {
      get(target, property) {
        const value = Reflect.get(target, property, target) as unknown;
        if (typeof value !== 'function') return value;
        if (property === 'xrange')
          return async (...args: Parameters<Redis['xrange']>) => {
            const entries = await target.xrange(...args);
            seen.xranges++;
            seen.entries += entries.length;
            return entries;
          };
        if (property === 'xdel')
          return async (...args: Parameters<Redis['xdel']>) => {
            seen.xdels++;
            return target.xdel(...args);
          };
        return (value as (...args: unknown[]) => unknown).bind(target);
      },
    });
    return { client, seen };
  }

  it('stops listing once limit letters matched, and purges with one XDEL per page', async () => {
    const keyPrefix = `${ns.keyPrefix}paged${run++}:`;
    const { client, seen } = counted();
    const queue = new RedisDeadLetterQueue(client, { keyPrefix, pageSize: 10 });
    const writer = new RedisDeadLetterQueue(redis, { keyPrefix });
    for (let n = 0; n < 60; n++)
      await writer.add({
        envelope: testEnvelope('Dead', { n }),
        originalTopic: `events.${n % 2}`,
        position: `${n}-0`,
        group: 'g',
        handler: n === 3 ? 'rare' : 'common',
        reason: 'boom',
        errorName: 'Error',
        attempts: 1,
        deadLetteredAt: new Date().toISOString(),
      });

    const [rare] = await queue.list({ handler: 'rare', limit: 1 });
    expect(rare?.envelope?.data).toEqual({ n: 3 });
    // events.1 is read after events.0: the first page of events.1 holds n = 3.
    expect(seen.entries).toBeLessThanOrEqual(40);

    Object.assign(seen, { entries: 0, xranges: 0, xdels: 0 });
    expect((await queue.stats()).total).toBe(60);
    expect(seen.xranges).toBeGreaterThanOrEqual(6);

    Object.assign(seen, { entries: 0, xranges: 0, xdels: 0 });
    expect(await queue.purge({ handler: 'common' })).toBe(59);
    expect(seen.xdels).toBeLessThanOrEqual(6);
    expect((await writer.list()).map((letter) => letter.handler)).toEqual(['rare']);
  });
});

describe('RedisDeadLetterQueue keeps its letters', () => {
  const letter = (n: number) => ({
    envelope: testEnvelope('Dead', { n }),
    originalTopic: 'events.kept',
    position: `${n}-0`,
    group: 'g',
    handler: 'h',
    reason: 'boom',
    errorName: 'Error',
    attempts: 1,
    deadLetteredAt: new Date().toISOString(),
  });

  it('drops none by default, past the 100 000 a topic the bus streams keep', async () => {
    const keyPrefix = `${ns.keyPrefix}kept${run++}:`;
    const queue = new RedisDeadLetterQueue(redis, { keyPrefix });
    const total = 100_500;
    for (let n = 0; n < total; n += 5_000)
      await Promise.all(
        Array.from({ length: Math.min(5_000, total - n) }, (_, i) => queue.add(letter(n + i))),
      );
    expect((await queue.stats()).total).toBe(total);
    const [oldest] = await queue.list({ limit: 1 });
    expect(oldest?.envelope?.data).toEqual({ n: 0 });
    await redis.del(`${keyPrefix}dead-letters.events.kept`);
  }, 60_000);

  it('has nothing after the greatest entry id a cursor can name, and refuses one past it', async () => {
    const queue = new RedisDeadLetterQueue(redis, { keyPrefix: `${ns.keyPrefix}maxid${run++}:` });
    await queue.add(letter(1));
    const max = '18446744073709551615';
    await expect(queue.list({ after: `events.kept|${max}-${max}` })).resolves.toEqual([]);
    await expect(queue.list({ after: `events.kep|${max}-${max}` })).resolves.toHaveLength(1);
    await expect(queue.list({ after: `events.kept|${max}0-0` })).rejects.toThrow(
      DeadLetterCursorError,
    );
  });

  it('drops the oldest beyond maxLenPerTopic when asked to, and refuses a cap that is not a positive integer', async () => {
    const queue = new RedisDeadLetterQueue(redis, {
      keyPrefix: `${ns.keyPrefix}capped${run++}:`,
      maxLenPerTopic: 100,
    });
    for (let n = 0; n < 1_000; n++) await queue.add(letter(n));
    const { total } = await queue.stats();
    expect(total).toBeGreaterThanOrEqual(100);
    expect(total).toBeLessThan(1_000);
    for (const maxLenPerTopic of [0, 1.5, -1, Number.NaN])
      expect(() => new RedisDeadLetterQueue(redis, { maxLenPerTopic })).toThrow(
        /maxLenPerTopic must be a positive integer/,
      );
  });
});

// A second client over the same prefix stands for another process.
const peers: Redis[] = [];
let dedupPrefix = '';
afterAll(() => peers.forEach((peer) => peer.disconnect()));

describeDeduplicationStoreConformance(
  'redis',
  async () => {
    dedupPrefix = `${ns.keyPrefix}dedup${run++}:`;
    return new RedisDeduplicationStore(redis, dedupPrefix);
  },
  async () => {
    const peer = new Redis(ns.redisUrl);
    peers.push(peer);
    return new RedisDeduplicationStore(peer, dedupPrefix);
  },
);

it('keeps deduplication keys under the deployment prefix given as an option, as the other stores', async () => {
  const store = new RedisDeduplicationStore(redis, { keyPrefix: `${ns.keyPrefix}opt:` });
  expect((await store.claim('g:m', 5_000)).state).toBe('claimed');
  expect(await redis.exists(`${ns.keyPrefix}opt:dedup:g:m`)).toBe(1);
});

describeForwardLedgerConformance(
  'redis',
  async (units) =>
    new RedisForwardLedger({ client: redis, key: `${ns.keyPrefix}ledger:${run++}`, units }),
);

// Each holder its own client, as each instance of a service has.
describeLeaseConformance('redis', async (key, ttlMs) => {
  const client = new Redis(ns.redisUrl);
  peers.push(client);
  return new RedisLease({ client, key: `${ns.keyPrefix}${key}`, ttlMs, holder: 'test' });
});

it('names the holder in the lease key and leaves nothing once released', async () => {
  const key = `${ns.keyPrefix}lease-value`;
  const lease = new RedisLease({ client: redis, key, ttlMs: 60_000, holder: 'billing-1' });
  expect(await lease.acquire()).toBe(true);
  expect(await redis.get(key)).toMatch(/^billing-1:/);
  expect(await redis.pttl(key)).toBeGreaterThan(59_000);
  await lease.release();
  expect(await redis.exists(key)).toBe(0);
  expect(() => new RedisLease({ client: redis, key, ttlMs: 0, holder: 'x' })).toThrow(
    'lease ttlMs must be a positive integer number of milliseconds (at most 9007199254740991), got 0',
  );
});
