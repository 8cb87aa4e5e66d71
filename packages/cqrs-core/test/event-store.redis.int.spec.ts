import { testNamespace } from '@causeway/testkit';
import type Redis from 'ioredis';
import { type EventStore } from '../src';
import { redisConnection, RedisEventStore, type RedisEventRecord } from '../src/redis';
import { describeEventStoreConformance, testEnvelope } from '../src/testing';

/** Deletes every key under `prefix`. */
async function deleteKeys(raw: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await raw.del(...keys);
  } while (cursor !== '0');
}

// The Redis event store against a real server; every key of this file lives under its own prefix.
describeEventStoreConformance('redis', { densePositions: true }, async () => {
  const ns = testNamespace('esredis');
  const connections: ReturnType<typeof redisConnection>[] = [];
  const open = async (
    serializer?: ConstructorParameters<typeof RedisEventStore>[0]['serializer'],
  ): Promise<RedisEventStore> => {
    const connection = redisConnection({ url: ns.redisUrl, name: `es-${connections.length}` });
    connections.push(connection);
    await connection.open();
    const store = new RedisEventStore({
      client: connection.client,
      keyPrefix: ns.keyPrefix,
      serializer,
    });
    await store.init();
    return store;
  };
  const store: EventStore = await open();
  const raw = connections[0]!.client;
  return {
    store,
    connect: (options = {}) => open(options.serializer),
    async corrupt(streamId, version) {
      // The stream index has one entry per commit: score = its first version, member =
      // `<first position>:<count>` (redis.event-store.scripts.ts).
      const [member, score] = await raw.zrevrangebyscore(
        `${ns.keyPrefix}s:${streamId}`,
        version,
        '-inf',
        'WITHSCORES',
        'LIMIT',
        0,
        1,
      );
      const [first, count] = (member ?? '').split(':').map(Number);
      const offset = version - Number(score);
      if (first === undefined || count === undefined || !(offset < count)) {
        throw new Error(`no event ${streamId}@${version} to corrupt`);
      }
      const position = String(first + offset);
      const record = JSON.parse(
        (await raw.hget(`${ns.keyPrefix}events`, position)) ?? '{}',
      ) as RedisEventRecord;
      await raw.hset(
        `${ns.keyPrefix}events`,
        position,
        JSON.stringify({ ...record, data: JSON.stringify({ tampered: true }) }),
      );
    },
    async dispose() {
      await deleteKeys(raw, ns.keyPrefix);
      for (const connection of connections) await connection.close();
    },
  };
});

describe('RedisEventStore', () => {
  const ns = testNamespace('esredis2');
  const connection = redisConnection({ url: ns.redisUrl, name: 'es-layout' });
  const raw = () => connection.client;
  const open = async (keyPrefix: string): Promise<RedisEventStore> => {
    const store = new RedisEventStore({ client: raw(), keyPrefix });
    await store.init();
    return store;
  };
  const event = (n: number) => testEnvelope('Numbered', n);
  const range = (from: number, to: number) =>
    Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

  beforeAll(() => connection.open());
  afterAll(async () => {
    await deleteKeys(raw(), ns.keyPrefix);
    await connection.close();
  });

  it('refuses to start on a prefix holding data of the key layout before session 4', async () => {
    const prefix = `${ns.keyPrefix}v1:`;
    // What layout 1 left after one append: the counter, the record and a per-event index entry.
    await raw().set(`${prefix}seq`, 1);
    await raw().hset(`${prefix}events`, 1, '{"version":1,"streamId":"order-1","type":"Placed"}');
    await raw().zadd(`${prefix}s:order-1`, 1, `1:${Date.now()}`);
    const error = await open(prefix).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(`prefix "${prefix}"`);
    expect((error as Error).message).toContain('layout 1');
    expect((error as Error).message).toContain('Use a new keyPrefix');
    // Nothing was written: the old data stays as it was.
    await expect(raw().exists(`${prefix}layout`)).resolves.toBe(0);

    const unknown = `${ns.keyPrefix}v9:`;
    await raw().set(`${unknown}layout`, '9');
    await expect(open(unknown)).rejects.toThrow(`prefix "${unknown}"`);
  });

  it('starts on a fresh prefix, and again on the data it wrote', async () => {
    const prefix = `${ns.keyPrefix}fresh:`;
    const first = await open(prefix);
    await first.init();
    await first.append('order-1', [event(1), event(2)], { expectedVersion: 'no-stream' });
    const second = await open(prefix);
    expect((await second.readStream('order-1')).map((e) => e.data)).toEqual([1, 2]);
  });

  it('reads any version range across appends of every size, after a cut inside one', async () => {
    const store = await open(`${ns.keyPrefix}ranges:`);
    const streamId = 'ranges-1';
    // Appends of 1, 3, 1 200 (more than one script chunk) and 2 events; the 'any' ones make the
    // script rewrite the versions the client built for head 0.
    const sizes = [1, 3, 1200, 2];
    let version = 0;
    for (const [i, size] of sizes.entries()) {
      const batch = range(version + 1, version + size).map(event);
      const result = await store.append(streamId, batch, {
        expectedVersion: i % 2 === 0 ? version : 'any',
      });
      version += size;
      expect(result.nextExpectedVersion).toBe(version);
      // A retry of the whole append is recognised as done.
      await expect(store.append(streamId, batch, { expectedVersion: 'any' })).resolves.toEqual({
        nextExpectedVersion: version,
        positions: [],
      });
    }
    const data = async (options: Parameters<EventStore['readStream']>[1]) =>
      (await store.readStream(streamId, options)).map((e) => {
        expect(e.data).toBe(e.version);
        return e.version;
      });
    const all = range(1, 1206);
    expect(await data({})).toEqual(all);
    expect(await data({ fromVersion: 3, toVersion: 6 })).toEqual(range(3, 6));
    expect(await data({ fromVersion: 5, limit: 3 })).toEqual([5, 6, 7]);
    expect(await data({ fromVersion: 1204, limit: 10 })).toEqual([1204, 1205, 1206]);
    expect(await data({ direction: 'backwards', limit: 4 })).toEqual([1206, 1205, 1204, 1203]);
    expect(await data({ direction: 'backwards', fromVersion: 6, toVersion: 2 })).toEqual([
      6, 5, 4, 3, 2,
    ]);
    expect(await data({ direction: 'backwards', fromVersion: 3000, toVersion: 1205 })).toEqual([
      1206, 1205,
    ]);

    // Cut inside the 1 200-event append: its remainder stays readable by any range.
    await store.truncateStream(streamId, 700);
    expect(await data({})).toEqual(range(700, 1206));
    expect(await data({ toVersion: 702 })).toEqual([700, 701, 702]);
    expect(await data({ fromVersion: 2, limit: 2 })).toEqual([700, 701]);
    expect(await data({ direction: 'backwards', toVersion: 2, limit: 2 })).toEqual([1206, 1205]);
    expect(await data({ direction: 'backwards', fromVersion: 701 })).toEqual([701, 700]);
    await expect(store.applyRetention({ maxCount: 3, streamPrefix: streamId })).resolves.toBe(504);
    expect(await data({})).toEqual([1204, 1205, 1206]);
  });

  it('bounds the work of one filtered page, and its checkpoint walks past what the filter leaves out', async () => {
    const store = await open(`${ns.keyPrefix}budget:`);
    const rare = await store.append('rare-1', [testEnvelope('Rare', 0)], {
      expectedVersion: 'no-stream',
    });
    const start = rare.positions[0]!;
    // 25 000 other events (appends of 1 000) after the last rare one.
    for (let i = 0; i < 25; i++) {
      await store.append('common-1', range(1, 1000).map(event), { expectedVersion: i * 1000 });
    }
    const read = (fromPosition: number) =>
      store.readAllPage({ fromPosition, types: ['Rare'], limit: 10 });
    // One page looks at 10 000 positions at most, then says where it got to.
    const first = await read(start);
    expect(first).toEqual({ events: [], position: start + 10_000, caughtUp: false });
    const second = await read(first.position);
    expect(second).toEqual({ events: [], position: start + 20_000, caughtUp: false });
    const third = await read(second.position);
    expect(third).toEqual({ events: [], position: start + 25_000, caughtUp: true });
    // readAll still reads to the end, page by page; a new rare event is found from the end.
    await expect(store.readAll({ fromPosition: start, types: ['Rare'] })).resolves.toEqual([]);
    const next = await store.append('rare-1', [testEnvelope('Rare', 1)], { expectedVersion: 1 });
    const found = await read(third.position);
    expect(found.events.map((e) => [e.position, e.data])).toEqual([[next.positions[0], 1]]);
    expect(found).toMatchObject({ position: next.positions[0], caughtUp: true });
  });

  it('removes by age a run of expired events longer than one read, up to inside an append', async () => {
    const store = await open(`${ns.keyPrefix}aged:`);
    const old = new Date(Date.now() - 60_000).toISOString();
    const young = new Date().toISOString();
    const stamped = (n: number, timestamp: string) =>
      testEnvelope('Stamped', n, { metadata: { timestamp } });
    // 49 expired events in appends of 7, then one append that holds the first young event.
    for (let from = 1; from <= 49; from += 7) {
      await store.append(
        'aged-1',
        range(from, from + 6).map((n) => stamped(n, old)),
        { expectedVersion: from - 1 },
      );
    }
    await store.append('aged-1', [stamped(50, old), stamped(51, young), stamped(52, old)], {
      expectedVersion: 49,
    });
    await expect(store.applyRetention({ maxAgeMs: 30_000, streamPrefix: 'aged-' })).resolves.toBe(
      50,
    );
    expect((await store.readStream('aged-1')).map((e) => e.version)).toEqual([51, 52]);
    await expect(store.streamInfo('aged-1')).resolves.toMatchObject({ firstVersion: 51 });
    // With both limits the larger cut wins.
    await expect(
      store.applyRetention({ maxAgeMs: 30_000, maxCount: 1, streamPrefix: 'aged-' }),
    ).resolves.toBe(1);
    expect((await store.readStream('aged-1')).map((e) => e.version)).toEqual([52]);
  });
});
