import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { describeDeadLetterQueueConformance } from '../src/testing';
import { RedisDeadLetterQueue, RedisDeduplicationStore } from '../src/redis';

const ns = testNamespace('redisstores');
const redis = new Redis(ns.redisUrl);
let run = 0;

afterAll(async () => {
  const keys = await redis.keys(`${ns.keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describeDeadLetterQueueConformance(
  'redis',
  async () => new RedisDeadLetterQueue(redis, { keyPrefix: `${ns.keyPrefix}${run++}:` }),
);

describe('RedisDeduplicationStore', () => {
  it('claims atomically across instances: one wins, the others see busy, then done', async () => {
    const instances = [
      new RedisDeduplicationStore(redis, ns.keyPrefix),
      new RedisDeduplicationStore(new Redis(ns.redisUrl), ns.keyPrefix),
    ];
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, i) => instances[i % 2]!.claim('g:m1', 5_000)),
    );
    const winners = claims.filter((c) => c.state === 'claimed');
    expect(winners).toHaveLength(1);
    expect(claims.filter((c) => c.state === 'busy')).toHaveLength(9);
    const token = (winners[0] as { token: string }).token;
    await instances[1]!.release('g:m1', 'not-the-token'); // someone else's release does nothing
    expect((await instances[1]!.claim('g:m1', 5_000)).state).toBe('busy');
    await instances[0]!.complete('g:m1', token, 5_000);
    expect((await instances[1]!.claim('g:m1', 5_000)).state).toBe('done');
    (instances[1] as unknown as { redis: Redis }).redis.disconnect();
  });

  it('frees a claim whose holder died once the lease ends, and after a release', async () => {
    const store = new RedisDeduplicationStore(redis, ns.keyPrefix);
    expect((await store.claim('g:m2', 100)).state).toBe('claimed');
    await new Promise((resolve) => setTimeout(resolve, 150));
    const again = await store.claim('g:m2', 5_000);
    expect(again.state).toBe('claimed');
    await store.release('g:m2', (again as { token: string }).token);
    expect((await store.claim('g:m2', 5_000)).state).toBe('claimed');
  });
});
