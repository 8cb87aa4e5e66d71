import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { describeIdempotencyStore } from '../src/idempotency/idempotency-store.conformance';
import { RedisIdempotencyStore } from '../src/idempotency/redis.idempotency-store';

const ns = testNamespace('idempotency');
const redis = new Redis(ns.redisUrl);

afterAll(async () => {
  const keys = await redis.keys(`${ns.keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describeIdempotencyStore(
  'redis',
  async () => new RedisIdempotencyStore(redis, { keyPrefix: ns.keyPrefix }),
);
