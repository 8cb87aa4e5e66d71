import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { describePresenceRegistry } from '../src/presence/presence-registry.conformance';
import { RedisPresenceRegistry } from '../src/presence/redis.presence-registry';

const ns = testNamespace('presence');
let redis: Redis;
let run = 0;

beforeAll(() => {
  redis = new Redis(ns.redisUrl);
});
afterAll(async () => {
  const keys = await redis.keys(`${ns.keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describePresenceRegistry(
  'redis',
  async ({ ttlMs }) =>
    new RedisPresenceRegistry(redis, { keyPrefix: `${ns.keyPrefix}${run++}:`, ttlMs }),
);
