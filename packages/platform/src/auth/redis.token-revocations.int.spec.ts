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

describeTokenRevocations('redis', async (count, options) => {
  const keyPrefix = `${ns.keyPrefix}${run++}:`;
  return Array.from(
    { length: count },
    () => new RedisTokenRevocations(redis, { keyPrefix, keepMs: options?.keepMs }),
  );
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
      // Both: the refresh reads the hash on one connection, the messages come on another, in
      // no set order.
      const deadline = Date.now() + 3_000;
      while (
        (revocations.revokedUntil('ash') === undefined || errors.length < 2) &&
        Date.now() < deadline
      )
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

  it('drops the cuts older than keepMs from Redis, indexing the fields an earlier release wrote', async () => {
    const keyPrefix = `${ns.keyPrefix}prune:`;
    const keepMs = 3_600_000;
    const revocations = new RedisTokenRevocations(redis, { keyPrefix, keepMs, refreshMs: 100 });
    const now = Date.now();
    // As an earlier release left them: 1 200 cuts older than keepMs and 30 fresh ones, in the
    // hash alone (no index).
    const stale = Array.from({ length: 1_200 }, (_, i) => [
      `old-${i}`,
      `${now - keepMs - 60_000 - i}`,
    ]);
    const fresh = Array.from({ length: 30 }, (_, i) => [`new-${i}`, `${now - i * 1_000}`]);
    await redis.hset(revocations.key, Object.fromEntries([...stale, ...fresh]));
    await revocations.start();
    try {
      expect(await redis.hlen(revocations.key)).toBe(30);
      expect(await redis.zcard(revocations.indexKey)).toBe(30);
      expect(revocations.revokedUntil('new-29')).toBe(now - 29_000);
      expect(revocations.revokedUntil('old-0')).toBeUndefined();
      // A cut indexed as old, then moved later by an instance of the earlier release (the hash
      // alone): kept, and indexed by its new cut.
      await revocations.revoke('gary', now - keepMs - 5_000);
      await redis.hset(revocations.key, 'gary', `${now}`);
      await redis.hset(revocations.key, 'old-x', `${now - keepMs - 1}`);
      const deadline = Date.now() + 3_000;
      while ((await redis.hexists(revocations.key, 'old-x')) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await redis.hget(revocations.key, 'gary')).toBe(`${now}`);
      expect(await redis.zscore(revocations.indexKey, 'gary')).toBe(`${now}`);
      expect(revocations.revokedUntil('gary')).toBe(now);
      expect(await redis.hlen(revocations.key)).toBe(31);
      expect(await redis.zcard(revocations.indexKey)).toBe(31);
    } finally {
      await revocations.close();
    }
  });

  it('never drops a cut that an instance with a longer keep (JWT_MAX_LIFETIME_S) still needs', async () => {
    const keyPrefix = `${ns.keyPrefix}keeps:`;
    const long = new RedisTokenRevocations(redis, { keyPrefix, keepMs: 3_600_000 });
    const short = new RedisTokenRevocations(redis, { keyPrefix, keepMs: 60_000 });
    const at = Date.now() - 300_000; // older than the short keep, within the long one
    await long.start();
    try {
      await long.revoke('misty', at);
      await short.start();
      await short.close();
      // The short instance's reload kept it: the long instance still refuses misty's tokens.
      expect(await redis.hget(long.key, 'misty')).toBe(`${at}`);
      expect(long.revokedUntil('misty')).toBe(at);
      expect(short.revokedUntil('misty')).toBeUndefined(); // refuses nothing under its own keep
    } finally {
      await long.close();
    }
    // Alone (no longer keep asked for meanwhile), the short keep drops it.
    const alone = `${ns.keyPrefix}alone:`;
    await redis.hset(`${alone}auth:revoked`, 'misty', `${at}`);
    const only = new RedisTokenRevocations(redis, { keyPrefix: alone, keepMs: 60_000 });
    await only.start();
    await only.close();
    expect(await redis.hexists(`${alone}auth:revoked`, 'misty')).toBe(0);
  });
});
