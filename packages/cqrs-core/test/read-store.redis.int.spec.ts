import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import Redis from 'ioredis';
import { RedisReadStore } from '../src/redis';
import { describeReadStoreConformance } from '../src/testing/read-store.conformance';

// The read store contract against a real Redis; every key of this file under its prefix.
const ns = testNamespace('readredis');
let redis: Redis;
let run = 0;

beforeAll(() => {
  redis = new Redis(ns.redisUrl);
});
afterAll(async () => {
  redis.disconnect();
  await removeNamespaceData(ns, ['redis']);
});

describeReadStoreConformance(
  'redis',
  ({ indexed }) =>
    new RedisReadStore({ client: redis, keyPrefix: `${ns.keyPrefix}${run++}:`, indexed }),
  { concurrentWriters: true, declaredFields: true },
);

/** Resolves once Redis's clock (TIME, which its expiries use) is past `atMs`. */
async function redisClockPasses(atMs: number): Promise<void> {
  for (;;) {
    const [seconds, micros] = await redis.time();
    const now = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
    if (now > atMs) return;
    await new Promise((resolve) => setTimeout(resolve, atMs - now + 1));
  }
}

describe('RedisReadStore', () => {
  const store = (name: string, indexed = ['status']) =>
    new RedisReadStore({ client: redis, keyPrefix: `${ns.keyPrefix}${name}:`, indexed });

  it('refuses a query or countBy on a field not declared as indexed, naming it', async () => {
    const s = store('undeclared');
    await s.put('a', { status: 'x', color: 'red' });
    await expect(s.find({ where: { color: 'red' } })).rejects.toThrow(
      'RedisReadStore: where.color is not an indexed field; declare "color" in options.indexed to query by it (indexed: status)',
    );
    await expect(s.count({ color: 'red' })).rejects.toThrow(TypeError);
    await expect(s.countBy('color')).rejects.toThrow(
      'RedisReadStore: countBy field is not an indexed field; declare "color" in options.indexed',
    );
    // Ordering reads the matching rows, so any field will do.
    await expect(s.find({ orderBy: { field: 'color' } })).resolves.toHaveLength(1);
  });

  it('keeps a row in one key with its expiry, and leaves no key behind after delete and clear', async () => {
    const prefix = `${ns.keyPrefix}keys:`;
    const s = store('keys');
    await s.put('a', { status: 'x' }, { ttlMs: 60_000 });
    const ttl = await redis.pttl(`${prefix}r:a`);
    expect(ttl).toBeGreaterThan(59_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await s.put('b', { status: 'y' });
    await s.delete('a');
    await s.clear();
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
  });

  it('drops expired ids from the index sets at the next write', async () => {
    const prefix = `${ns.keyPrefix}purge:`;
    const s = store('purge');
    await s.put('a', { status: 'x' }, { ttlMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await s.put('b', { status: 'x' });
    expect(await redis.smembers(`${prefix}i:${JSON.stringify(['status', 'x'])}`)).toEqual(['b']);
    expect(await redis.smembers(`${prefix}ids`)).toEqual(['b']);
  });

  it('purges at most 100 expired rows per write; purgeExpired removes the rest in batches', async () => {
    // A write that purged every expired row inline blocked Redis for all of them (400 ms after
    // 50 000 rows expired at once): each write now takes a bounded share.
    const prefix = `${ns.keyPrefix}bounded:`;
    const s = store('bounded');
    const ROWS = 2_500;
    // All expire about 1.5 s from now, after the last is written.
    const deadline = Date.now() + 1_500;
    await Promise.all(
      Array.from({ length: ROWS }, (_, i) =>
        s.put(`s${i}`, { status: 'x' }, { ttlMs: deadline - Date.now() }),
      ),
    );
    // None expired while the others were written, or a write purged some already.
    expect(await redis.zcard(`${prefix}exp`)).toBe(ROWS);
    // Each expiry is Redis's clock when it ran the put, plus the ttl: on a busy machine Redis ran
    // the last puts well after the client sent them, so wait for its clock to pass the latest.
    await redisClockPasses(Number((await redis.zrange(`${prefix}exp`, -1, -1, 'WITHSCORES'))[1]));
    await s.put('other', { status: 'x' });
    expect(await redis.zcard(`${prefix}exp`)).toBe(ROWS - 100);
    // Reads never see the expired rows meanwhile (their keys expired by themselves).
    await expect(s.find({ where: { status: 'x' } })).resolves.toEqual([{ status: 'x' }]);
    await expect(s.count()).resolves.toBe(1);
    await expect(s.purgeExpired()).resolves.toBe(ROWS - 100);
    expect(await redis.zcard(`${prefix}exp`)).toBe(0);
    expect(await redis.smembers(`${prefix}ids`)).toEqual(['other']);
    expect(await redis.smembers(`${prefix}i:${JSON.stringify(['status', 'x'])}`)).toEqual([
      'other',
    ]);
  });

  it('clears a large store in scripts of 1 000 rows, so other commands run between them', async () => {
    // One script over every row blocked Redis for all of them while a rebuild cleared a store.
    const prefix = `${ns.keyPrefix}clear:`;
    const ROWS = 2_500;
    const filler = store('clear');
    await Promise.all(
      Array.from({ length: ROWS }, (_, i) => filler.put(`c${i}`, { status: i % 2 ? 'x' : 'y' })),
    );
    const client = new Redis(ns.redisUrl);
    const watcher = new Redis(ns.redisUrl);
    try {
      await client.ping();
      const me = `${client.stream.localAddress}:${client.stream.localPort}`;
      const monitor = await watcher.monitor();
      const scripts: string[] = [];
      let done = false;
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (source !== me) return;
        if (args[0]?.toLowerCase() === 'evalsha') scripts.push(args[0]);
        if (args[0]?.toLowerCase() === 'echo' && args[1] === 'cleared') done = true;
      });
      await new RedisReadStore({ client, keyPrefix: prefix, indexed: ['status'] }).clear();
      await client.echo('cleared');
      const deadline = Date.now() + 5_000;
      while (!done && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(scripts).toHaveLength(3);
      expect(await redis.keys(`${prefix}*`)).toEqual([]);
      monitor.disconnect();
    } finally {
      client.disconnect();
      watcher.disconnect();
    }
  });

  // A where of two fields read every id of each (SUNION) and intersected them here: one active
  // trainer of an owner cost every active trainer's id.
  it('reads the ids of the most selective field of a where only, then checks the rows', async () => {
    const s = store('selective', ['status', 'owner']);
    await s.init();
    for (let i = 0; i < 300; i++)
      await s.put(`r${i}`, { status: 'active', owner: i === 7 ? 'misty' : 'ash' });
    await s.put('gone', { status: 'away', owner: 'misty' });
    const sunion = jest.spyOn(redis, 'sunion');
    const smembers = jest.spyOn(redis, 'smembers');
    try {
      await expect(s.find({ where: { status: 'active', owner: 'misty' } })).resolves.toEqual([
        { status: 'active', owner: 'misty' },
      ]);
      await expect(
        s.count({ owner: { in: ['misty', 'brock'] }, status: { in: ['active', 'resting'] } }),
      ).resolves.toBe(1);
      await expect(s.countBy('owner', { status: 'away' })).resolves.toEqual([
        { value: 'misty', count: 1 },
      ]);
      const replies = [...sunion.mock.results, ...smembers.mock.results];
      const idsRead = (
        await Promise.all(replies.map((result) => result.value as Promise<string[]>))
      )
        .map((ids) => ids.length)
        .reduce((sum, length) => sum + length, 0);
      expect(idsRead).toBeLessThanOrEqual(5);
      // Every condition still holds on the rows returned.
      await expect(s.count({ status: 'active', owner: 'ash' })).resolves.toBe(299);
      await expect(s.count({ status: 'away', owner: 'ash' })).resolves.toBe(0);
    } finally {
      sunion.mockRestore();
      smembers.mockRestore();
    }
  });

  // Sizing the fields' index sets (SCARD) only pays when there is a field to choose: a where on
  // one field (the common query) read its ids at once, and sizing it first cost every such
  // find, count and countBy a round trip more (session 43).
  it('reads the ids of a where on one field at once, without sizing its sets first', async () => {
    const s = store('one-field', ['status', 'owner']);
    await s.init();
    await s.put('a', { status: 'active', owner: 'misty' });
    await s.put('b', { status: 'away', owner: 'misty' });
    const scard = jest.spyOn(redis, 'scard');
    try {
      await expect(s.find({ where: { status: 'active' } })).resolves.toEqual([
        { status: 'active', owner: 'misty' },
      ]);
      await expect(s.count({ status: { in: ['active', 'away', 'gone'] } })).resolves.toBe(2);
      await expect(s.count({ status: { in: [] } })).resolves.toBe(0);
      await expect(s.countBy('owner', { status: 'away' })).resolves.toEqual([
        { value: 'misty', count: 1 },
      ]);
      expect(scard).not.toHaveBeenCalled();
      // Two fields: the sizes choose which one's ids are read.
      await expect(s.count({ status: 'active', owner: 'misty' })).resolves.toBe(1);
      expect(scard).toHaveBeenCalled();
    } finally {
      scard.mockRestore();
    }
  });

  it("refuses a client with ioredis' own keyPrefix, naming both options", () => {
    // Its scripts build keys from their arguments, which ioredis does not prefix: the rows
    // would land outside the client's namespace, where no read of the store looks.
    const prefixed = new Redis(ns.redisUrl, { keyPrefix: 'app:', lazyConnect: true });
    try {
      expect(
        () => new RedisReadStore({ client: prefixed, keyPrefix: `${ns.keyPrefix}p:` }),
      ).toThrow(
        new TypeError(
          'RedisReadStore: options.client has its own ioredis keyPrefix "app:", which scripts ' +
            'do not apply to the keys they build; give a client without keyPrefix and put the ' +
            'whole prefix in options.keyPrefix (e.g. "app:…")',
        ),
      );
    } finally {
      prefixed.disconnect();
    }
  });

  it('refuses bad options, naming them', () => {
    expect(() => new RedisReadStore({} as never)).toThrow(
      'RedisReadStore: options.client must be a connected ioredis client',
    );
    expect(() => new RedisReadStore({ client: redis, keyPrefix: '' })).toThrow(
      'RedisReadStore: options.keyPrefix must be a non-empty string',
    );
    expect(() => new RedisReadStore({ client: redis, keyPrefix: 'x:', indexed: ['a.b'] })).toThrow(
      TypeError,
    );
    // A field name where the list goes failed with "….forEach is not a function".
    expect(
      () => new RedisReadStore({ client: redis, keyPrefix: 'x:', indexed: 'status' as never }),
    ).toThrow(
      new TypeError(
        'RedisReadStore: options.indexed must be an array of field names, got "status"',
      ),
    );
    expect(
      () =>
        new RedisReadStore({ client: redis, keyPrefix: 'x:', indexed: ['status', '__proto__'] }),
    ).toThrow(
      new TypeError(
        'RedisReadStore: options.indexed[1] must not be __proto__ (an object\'s prototype, not a field: rows cannot hold it), got "__proto__"',
      ),
    );
  });
});
