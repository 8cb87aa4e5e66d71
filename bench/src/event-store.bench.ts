import { randomBytes } from 'node:crypto';
import { type Envelope, type EventStore } from '@causeway/cqrs-core';
import { mongoConnection, MongoEventStore } from '@causeway/cqrs-core/mongodb';
import { redisConnection, RedisEventStore } from '@causeway/cqrs-core/redis';
import Redis from 'ioredis';
import { withDatabase } from '@causeway/testkit';
import { type Collection, type Document, MongoClient } from 'mongodb';
import { sampleEvents } from './fixtures';
import { type Servers } from './servers';
import { abba, pool, progress, ratioRow, Report, type Row, throughput } from './stats';

/**
 * Issue 3: append throughput of the MongoDB and Redis event stores against the raw driver
 * doing the equivalent write (see bench/README.md for why each baseline is fair).
 * Sizes: appends per measurement; FerretDB serialises writes, so it gets fewer than Redis.
 */
const CASES = [
  { batch: 1, writers: 1, mongo: 300, redis: 3_000, target: 0.7 },
  { batch: 1, writers: 64, mongo: 192, redis: 12_800, target: 0.7 },
  { batch: 10, writers: 1, mongo: 200, redis: 1_500, target: 0.8 },
  { batch: 10, writers: 64, mongo: 128, redis: 6_400, target: 0.8 },
  { batch: 100, writers: 1, mongo: 60, redis: 300, target: 0.8 },
  { batch: 100, writers: 64, mongo: 64, redis: 1_280, target: 0.8 },
] as const;

/** Environment override for a quick run: BENCH_SCALE=0.2 runs a fifth of every size. */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const scaled = (n: number, multiple: number) =>
  Math.max(multiple, Math.round((n * SCALE) / multiple) * multiple);

type AppendFn = (streamId: string, version: number, events: Envelope[]) => Promise<void>;

/**
 * `appends` appends of `batch` events by `writers` concurrent writers, each on its own stream
 * (the fast path of an aggregate: the writer knows its version). Events are created before the
 * clock starts, so both sides time only serialisation and the write. Returns events per second.
 */
async function measureAppends(
  label: string,
  batch: number,
  writers: number,
  appends: number,
  append: AppendFn,
): Promise<number> {
  const run = randomBytes(3).toString('hex');
  const perWriter = Math.ceil(appends / writers);
  const work = Array.from({ length: writers }, (_, w) =>
    Array.from({ length: perWriter }, (_, i) =>
      sampleEvents(`${label}-${run}-${w}`, i * batch, batch),
    ),
  );
  const versions = new Array<number>(writers).fill(0);
  return throughput(writers * perWriter * batch, () =>
    pool(writers, writers, async (w) => {
      for (const events of work[w]!) {
        await append(`${label}-${run}-${w}`, versions[w]!, events);
        versions[w]! += events.length;
      }
    }),
  );
}

/** The same document the MongoDB store writes for one append, minus its slot `_id`, checksum and beacon. */
function rawCommit(streamId: string, version: number, events: readonly Envelope[]): Document {
  const docs = events.map((e, i) => ({
    version: version + i + 1,
    index: i,
    messageId: e.messageId,
    type: e.type,
    aggregateId: e.aggregateId,
    aggregateType: e.aggregateType,
    data: JSON.stringify(e.data),
    metadata: JSON.stringify(e.metadata),
    at: Date.parse(e.metadata.timestamp),
  }));
  return {
    streamId,
    firstVersion: version + 1,
    lastVersion: version + events.length,
    events: docs,
    types: [...new Set(docs.map((d) => d.type))],
    messageIds: docs.map((d) => d.messageId),
  };
}

/** The indexes the store creates on its commits collection, so the raw inserts maintain the same ones. */
async function rawCommitsCollection(
  client: MongoClient,
  db: string,
  name: string,
): Promise<Collection> {
  const collection = client.db(db).collection(name);
  await collection.createIndex({ streamId: 1, firstVersion: 1 }, { unique: true });
  await collection.createIndex({ streamId: 1, lastVersion: 1 });
  await collection.createIndex({ streamId: 1, messageIds: 1 });
  await collection.createIndex({ types: 1, _id: 1 });
  return collection;
}

async function mongoSuite(servers: Servers, report: Report): Promise<void> {
  const database = `bench_es_${randomBytes(4).toString('hex')}`;
  const uri = withDatabase(servers.mongoUri, database);
  const connection = mongoConnection({ uri, name: 'bench-es', maxPoolSize: 64 });
  const raw = new MongoClient(uri, { maxPoolSize: 64 });
  const rows: Row[] = [];
  try {
    await connection.open();
    await raw.connect();
    for (const [index, c] of CASES.entries()) {
      const appends = scaled(c.mongo, c.writers);
      const store = new MongoEventStore({
        connection: connection.client,
        collectionPrefix: `c${index}_`,
      });
      await store.init();
      const commits = await rawCommitsCollection(raw, database, `raw${index}`);
      const ours = ((streamId, version, events) =>
        store
          .append(streamId, events, { expectedVersion: version === 0 ? 'no-stream' : version })
          .then(() => undefined)) satisfies AppendFn;
      const baseline: AppendFn = async (streamId, version, events) => {
        await commits.insertOne(rawCommit(streamId, version, events));
      };
      const label = `${c.writers === 1 ? 'sequential' : `${c.writers} writers`}, ${c.batch === 1 ? 'single events' : `batches of ${c.batch}`}`;
      progress(`event-store mongodb: ${label} (${appends} appends)`);
      // Warm-up: connections, JIT, the store's head cache for other streams, FerretDB's statement cache.
      await measureAppends(
        'warm',
        c.batch,
        Math.min(c.writers, 8),
        Math.min(c.writers, 8) * 3,
        baseline,
      );
      await measureAppends(
        'warm',
        c.batch,
        Math.min(c.writers, 8),
        Math.min(c.writers, 8) * 3,
        ours,
      );
      const result = await abba(
        () => measureAppends('raw', c.batch, c.writers, appends, baseline),
        () => measureAppends('cw', c.batch, c.writers, appends, ours),
        // 64 writers contend for the store's global log: ~30 s per measurement on FerretDB.
        c.writers > 1,
      );
      rows.push(ratioRow(`append, ${label}`, result.ours, result.raw, 'events/s', c.target));
    }
  } finally {
    await raw
      .db(database)
      .dropDatabase()
      .catch(() => undefined);
    await raw.close();
    await connection.close();
  }
  report.table(
    'Event store: MongoDB (FerretDB) append vs raw mongodb insertOne of the same commit document',
    rows,
  );
}

async function redisSuite(servers: Servers, report: Report): Promise<void> {
  const prefix = `bench:es:${randomBytes(4).toString('hex')}:`;
  const connection = redisConnection({ url: servers.redisUrl, name: 'bench-es' });
  const raw = new Redis(servers.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const rows: Row[] = [];
  const sameKeysRows: Row[] = [];
  try {
    await connection.open();
    await raw.connect();
    for (const [index, c] of CASES.entries()) {
      const appends = scaled(c.redis, c.writers);
      const store: EventStore = new RedisEventStore({
        client: connection.client,
        keyPrefix: `${prefix}c${index}:`,
      });
      await store.init();
      const ours: AppendFn = async (streamId, version, events) => {
        await store.append(streamId, events, {
          expectedVersion: version === 0 ? 'no-stream' : version,
        });
      };
      // One atomic round trip carrying the same bytes: the envelopes as JSON, data as text.
      const baseline: AppendFn = async (streamId, _version, events) => {
        await raw.rpush(
          `${prefix}raw${index}:${streamId}`,
          ...events.map((e) => JSON.stringify({ ...e, data: JSON.stringify(e.data) })),
        );
      };
      const label = `${c.writers === 1 ? 'sequential' : `${c.writers} writers`}, ${c.batch === 1 ? 'single events' : `batches of ${c.batch}`}`;
      progress(`event-store redis: ${label} (${appends} appends)`);
      await measureAppends('warm', c.batch, c.writers, c.writers * 5, baseline);
      await measureAppends('warm', c.batch, c.writers, c.writers * 5, ours);
      const result = await abba(
        () => measureAppends('raw', c.batch, c.writers, appends, baseline),
        () => measureAppends('cw', c.batch, c.writers, appends, ours),
      );
      rows.push(ratioRow(`append, ${label}`, result.ours, result.raw, 'events/s', c.target));
      // Second baseline: the keys the store's script writes, written raw in one MULTI — what
      // the script's own logic (checks, versions, positions) costs over the same writes.
      let seq = 0;
      const sameKeys: AppendFn = async (streamId, version, events) => {
        const at = `${prefix}keys${index}:`;
        const first = seq + 1;
        seq += events.length;
        const records: string[] = [];
        const ids: (string | number)[] = ['head', version + events.length];
        events.forEach((e, i) => {
          records.push(
            String(first + i),
            JSON.stringify({
              ...e,
              version: version + i + 1,
              streamId,
              data: JSON.stringify(e.data),
            }),
          );
          ids.push(`#${e.messageId}`, version + i + 1);
        });
        const multi = raw
          .multi()
          .incrby(`${at}seq`, events.length)
          .hset(`${at}events`, ...records)
          .hset(`${at}m:${streamId}`, ...ids)
          .zadd(`${at}s:${streamId}`, version + 1, `${first}:${events.length}`);
        if (version === 0) multi.sadd(`${at}streams`, streamId);
        await multi.exec();
      };
      const keys = await abba(
        () => measureAppends('keys', c.batch, c.writers, appends, sameKeys),
        () => measureAppends('cw2', c.batch, c.writers, appends, ours),
      );
      sameKeysRows.push(ratioRow(`append, ${label}`, keys.ours, keys.raw, 'events/s'));
    }
  } finally {
    await deleteKeys(raw, prefix);
    raw.disconnect();
    await connection.close();
  }
  report.table('Event store: Redis append vs raw ioredis RPUSH of the same events', rows);
  report.table(
    'Event store: Redis append vs raw ioredis MULTI writing the same keys (no target: where the time goes)',
    sameKeysRows,
  );
}

/** Deletes every key under `prefix` (SCAN, bounded by the keyspace). */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
}

/**
 * Environment filter: BENCH_EVENT_STORES=redis (a comma list of `mongodb`, `redis`; default
 * both) measures one backend alone.
 */
const STORES = new Set(
  (process.env.BENCH_EVENT_STORES ?? 'mongodb,redis').split(',').map((s) => s.trim()),
);

export async function eventStoreBench(servers: Servers): Promise<Report> {
  const report = new Report('event-store');
  if (STORES.has('mongodb')) await mongoSuite(servers, report);
  if (STORES.has('redis')) await redisSuite(servers, report);
  return report;
}
