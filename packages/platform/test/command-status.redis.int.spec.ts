import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { RedisCommandStatusStore } from '../src';
import { describeCommandStatusStore } from '../src/testing';

const ns = testNamespace('cmdstatus');
const redis = new Redis(ns.redisUrl);

afterAll(async () => {
  const keys = await redis.keys(`${ns.keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describeCommandStatusStore(
  'redis',
  async ({ retentionMs }) =>
    new RedisCommandStatusStore(redis, { keyPrefix: ns.keyPrefix, retentionMs }),
);

describe('RedisCommandStatusStore', () => {
  it('keeps one JSON value per command under the key prefix, with the retention as TTL', async () => {
    const store = new RedisCommandStatusStore(redis, {
      keyPrefix: ns.keyPrefix,
      retentionMs: 60_000,
    });
    await store.accepted({
      commandId: '6f1c2b1e-3a4d-4e5f-9a0b-1c2d3e4f5a6b',
      type: 'MoveTrainerCommand',
      issuerId: 'ash',
      acceptedAt: '2026-11-21T10:00:00.000Z',
    });
    const key = `${ns.keyPrefix}command-status:6f1c2b1e-3a4d-4e5f-9a0b-1c2d3e4f5a6b`;
    expect(JSON.parse((await redis.get(key))!)).toMatchObject({
      status: 'accepted',
      issuerId: 'ash',
    });
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });
});
