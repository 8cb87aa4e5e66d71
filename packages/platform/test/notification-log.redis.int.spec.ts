import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { RedisNotificationLog } from '../src';
import { describeNotificationLog, testNotification } from '../src/testing';

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

describe('redis notification log during a rolling update', () => {
  it("leaves out a key's newest entry once an instance of an earlier release moved its order key", async () => {
    const keyPrefix = `${ns.keyPrefix}rolling:`;
    const log = new RedisNotificationLog({ client: redis, keyPrefix });
    const at = (x: number) => testNotification({ params: { trainerId: 'ash', x } });
    await log.append(at(1), { key: 'position:ash', version: 1 });
    await log.append(at(2), { key: 'position:misty', version: 2 });
    // An earlier release's append script moves only the order key (no newest entry).
    await redis.set(`${keyPrefix}notifications:order:position:ash`, '2');
    const found = await log.newest(['position:ash', 'position:misty']);
    expect([...found.keys()]).toEqual(['position:misty']);
    await log.close();
  });
});
