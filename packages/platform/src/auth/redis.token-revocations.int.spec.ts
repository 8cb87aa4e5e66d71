import { testNamespace } from '@causeway/testkit';
import Redis from 'ioredis';
import { RedisTokenRevocations } from './redis.token-revocations';
import { describeTokenRevocations } from './token-revocations.conformance';

const ns = testNamespace('revoked');
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

describeTokenRevocations('redis', async (count) => {
  const keyPrefix = `${ns.keyPrefix}${run++}:`;
  return Array.from({ length: count }, () => new RedisTokenRevocations(redis, { keyPrefix }));
});

describe('RedisTokenRevocations', () => {
  it('picks up a cut it was never told of at its next refresh, and reports malformed messages', async () => {
    const errors: string[] = [];
    const revocations = new RedisTokenRevocations(redis, {
      keyPrefix: `${ns.keyPrefix}refresh:`,
      refreshMs: 100,
      onError: (message) => errors.push(message),
    });
    await revocations.start();
    try {
      // Written without a message on the channel: as if it was published while cut off.
      await redis.hset(revocations.key, 'ash', '7000');
      await redis.publish(revocations.key, 'not json');
      await redis.publish(revocations.key, JSON.stringify([42, 'x']));
      const deadline = Date.now() + 3_000;
      while (revocations.revokedUntil('ash') === undefined && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(revocations.revokedUntil('ash')).toBe(7_000);
      expect(errors).toEqual([
        expect.stringContaining('malformed revocation: not json'),
        expect.stringContaining('malformed revocation: [42,"x"]'),
      ]);
    } finally {
      await revocations.close();
    }
  });
});
