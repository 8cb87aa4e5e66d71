import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { RedisNotificationLog } from '../src';
import { TRIM_MAX } from '../src/notifications/redis.notification-log';
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

describe('redis notification log whose max length was lowered a long way', () => {
  it(`trims at most ${TRIM_MAX} entries an append, telling the newest it took each time`, async () => {
    const keyPrefix = `${ns.keyPrefix}lowered:`;
    const before = new RedisNotificationLog({ client: redis, keyPrefix, maxLength: 100_000 });
    const ids: string[] = [];
    for (let i = 0; i < TRIM_MAX + 600; i += 1) ids.push(await before.append(testNotification()));
    await before.close();
    // The same stream after a restart with a far lower NOTIFICATION_LOG_MAX_LENGTH.
    const after = new RedisNotificationLog({ client: redis, keyPrefix, maxLength: 10 });
    ids.push(await after.append(testNotification()));
    expect(await redis.xlen(`${keyPrefix}notifications`)).toBe(ids.length - TRIM_MAX);
    expect(await after.trimmedThrough()).toBe(ids[TRIM_MAX - 1]);
    expect(await after.oldestId()).toBe(ids[TRIM_MAX]);
    ids.push(await after.append(testNotification()));
    expect(await redis.xlen(`${keyPrefix}notifications`)).toBe(10);
    expect(await after.oldestId()).toBe(ids[ids.length - 10]);
    expect(await after.trimmedThrough()).toBe(ids[ids.length - 11]);
    await after.close();
  });
});
