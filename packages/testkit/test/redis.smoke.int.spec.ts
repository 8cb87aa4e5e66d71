import Redis from 'ioredis';
import { testNamespace } from '../src';

// Proves REDIS_URL points at a real Redis with the streams commands Causeway relies on.
describe('Redis server (smoke)', () => {
  const ns = testNamespace('redis');
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(ns.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${ns.keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('delivers an XADD entry to a consumer group and removes it from the pending list on XACK', async () => {
    const stream = `${ns.keyPrefix}orders`;
    await redis.xgroup('CREATE', stream, 'workers', '0', 'MKSTREAM');
    const id = await redis.xadd(
      stream,
      'MAXLEN',
      '~',
      '1000',
      '*',
      'type',
      'OrderPlaced',
      'data',
      '{"n":1}',
    );

    const read = (await redis.xreadgroup(
      'GROUP',
      'workers',
      'c1',
      'COUNT',
      10,
      'BLOCK',
      1000,
      'STREAMS',
      stream,
      '>',
    )) as [string, [string, string[]][]][] | null;
    expect(read).not.toBeNull();
    const [[, entries]] = read as [[string, [string, string[]][]]];
    expect(entries).toEqual([[id, ['type', 'OrderPlaced', 'data', '{"n":1}']]]);

    const pendingBefore = (await redis.xpending(stream, 'workers')) as [number, ...unknown[]];
    expect(pendingBefore[0]).toBe(1);
    expect(await redis.xack(stream, 'workers', id as string)).toBe(1);
    const pendingAfter = (await redis.xpending(stream, 'workers')) as [number, ...unknown[]];
    expect(pendingAfter[0]).toBe(0);
  });
});
