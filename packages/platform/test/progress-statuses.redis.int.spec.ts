import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { RedisProgressStatuses } from '../src';
import { CONFORMANCE_TTL_MS, describeProgressStatuses } from '../src/testing';

// The Redis progress statuses against a real server; every test gets a fresh key prefix.
const ns = testNamespace('progress');
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

const fresh = () =>
  new RedisProgressStatuses({
    client: redis,
    keyPrefix: `${ns.keyPrefix}${run++}:`,
    ttlMs: CONFORMANCE_TTL_MS,
  });

describeProgressStatuses('redis', async () => fresh());

describe('redis progress statuses', () => {
  it('lets Redis expire a task and its user index with the retention', async () => {
    const statuses = fresh();
    const updatedAt = Date.now() - CONFORMANCE_TTL_MS + 1_000;
    await statuses.apply({
      taskId: 't-1',
      userId: 'ash',
      currentStep: 0,
      totalSteps: 4,
      percentage: 0,
      stepName: 'started',
      status: 'STARTED',
      startedAt: new Date(updatedAt).toISOString(),
      updatedAt: new Date(updatedAt).toISOString(),
      eventCount: 1,
      lastEventId: 't-1:0:STARTED',
    });
    const prefix = `${ns.keyPrefix}${run - 1}:progress:`;
    for (const key of [`${prefix}task:t-1`, `${prefix}user:ash`]) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(1_000);
    }
  });

  it('changes nothing when the write fails (a corrupt user index): the next apply can store it', async () => {
    const statuses = fresh();
    const prefix = `${ns.keyPrefix}${run - 1}:progress:`;
    await redis.set(`${prefix}user:ash`, 'not a sorted set');
    const now = new Date().toISOString();
    const status = {
      taskId: 't-2',
      userId: 'ash',
      currentStep: 0,
      totalSteps: 4,
      percentage: 0,
      stepName: 'started',
      status: 'STARTED' as const,
      startedAt: now,
      updatedAt: now,
      eventCount: 1,
      lastEventId: 't-2:0:STARTED',
    };
    await expect(statuses.apply(status)).rejects.toThrow(/WRONGTYPE/);
    expect(await statuses.get('t-2')).toBeUndefined();
    await redis.del(`${prefix}user:ash`);
    expect(await statuses.apply(status)).toBe(true);
    expect(await statuses.get('t-2')).toEqual(status);
  });
});
