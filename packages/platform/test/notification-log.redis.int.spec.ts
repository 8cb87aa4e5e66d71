import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { RedisNotificationLog } from '../src';
import { describeNotificationLog } from '../src/testing';

const ns = testNamespace('notiflog');
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

describeNotificationLog(
  'redis',
  // XADD MAXLEN ~ trims whole stream nodes (stream-node-max-entries, 100 by default).
  { trimSlack: 100 },
  async (options) =>
    new RedisNotificationLog({
      client: redis,
      keyPrefix: `${ns.keyPrefix}${run++}:`,
      blockMs: 500,
      ...options,
    }),
);
