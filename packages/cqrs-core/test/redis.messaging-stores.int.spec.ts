import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import {
  describeDeadLetterQueueConformance,
  describeDeduplicationStoreConformance,
  describeLeaseConformance,
} from '../src/testing';
import { RedisDeadLetterQueue, RedisDeduplicationStore, RedisLease } from '../src/redis';

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
  async () => new RedisDeadLetterQueue(redis, { keyPrefix: `${ns.keyPrefix}${run++}:` }),
);

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
    'lease ttlMs must be > 0, got 0',
  );
});
