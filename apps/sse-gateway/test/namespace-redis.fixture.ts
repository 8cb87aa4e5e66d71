import Redis from 'ioredis';
import { type TestNamespace } from '@causeway/testkit';

/**
 * A Redis client on `ns`'s server for the tests of the scope this is called in (a file, a
 * describe). It connects at its first command; after the tests (afterAll) every key under
 * `ns.keyPrefix` is removed and it is disconnected.
 */
export function namespaceRedis(ns: TestNamespace): Redis {
  const redis = new Redis(ns.redisUrl, { lazyConnect: true });
  afterAll(async () => {
    const keys = await redis.keys(`${ns.keyPrefix}*`);
    if (keys.length > 0) await redis.unlink(...keys);
    redis.disconnect();
  });
  return redis;
}
