import { randomBytes } from 'node:crypto';
import { DocumentStore, documentCollection, type EventStore } from '@causeway/cqrs-core';
import { mongoConnection, MongoEventStore } from '@causeway/cqrs-core/mongodb';
import { redisConnection, RedisEventStore } from '@causeway/cqrs-core/redis';
import { withDatabase } from '@causeway/testkit';
import Redis from 'ioredis';
import { type Collection, MongoClient } from 'mongodb';
import { deleteKeys } from './event-store.bench';
import { type Servers } from './servers';
import { abba, pool, progress, ratioRow, Report, type Row, throughput } from './stats';

/**
 * SPEC S4: event-sourced documents. `DocumentStore.update` (read the document's stream, change,
 * append the change's event at the version read) and `get`, against the raw client doing the
 * optimistic update a user would write by hand: read the document and its version, write it
 * back only if the version is unchanged — one document, no history, no events. The ratio is the
 * price of keeping every change as events (see bench/README.md).
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
/** Writes per document: the create and the updates after it. */
const WRITES_PER_DOCUMENT = 5;
const CASES = [
  { writers: 1, redis: 200, mongo: 40 },
  { writers: 16, redis: 400, mongo: 64 },
] as const;
const scaled = (documents: number, writers: number) =>
  Math.max(writers, Math.round((documents * SCALE) / writers) * writers);

interface User {
  name: string;
  email: string;
  address: { street: string; city: string; zip: string };
  tags: string[];
  count: number;
}
const users = documentCollection<User>('users', { aggregateType: 'User' });
const base = (id: string): User => ({
  name: `Trainer ${id}`,
  email: `${id}@pallet.town`,
  address: { street: '1 Route', city: 'Pallet Town', zip: '00001' },
  tags: ['bench', 'document'],
  count: 0,
});

/** One optimistic write of document `id`: create it, or set its `count` to `n`. */
type WriteFn = (id: string, n: number) => Promise<void>;
type ReadFn = (id: string) => Promise<void>;

/** `documents` documents written WRITES_PER_DOCUMENT times each by `writers` writers; writes/s. */
function measureWrites(label: string, documents: number, writers: number, write: WriteFn) {
  const run = randomBytes(3).toString('hex');
  const perWriter = documents / writers;
  return throughput(documents * WRITES_PER_DOCUMENT, () =>
    pool(writers, writers, async (w) => {
      for (let d = 0; d < perWriter; d++)
        for (let n = 0; n < WRITES_PER_DOCUMENT; n++) await write(`${label}-${run}-${w}-${d}`, n);
    }),
  );
}

/** Reads of the documents `measureWrites` left under `prefix` (ids known); reads/s. */
function measureReads(ids: readonly string[], writers: number, read: ReadFn) {
  return throughput(ids.length, () => pool(ids.length, writers, (i) => read(ids[i]!)));
}

function oursOver(eventStore: EventStore): { write: WriteFn; read: ReadFn } {
  const documents = new DocumentStore({ eventStore });
  return {
    write: async (id, n) => {
      await documents.update(users, id, (user) => (user ? { ...user, count: n } : base(id)));
    },
    read: async (id) => {
      if (!(await documents.get(users, id))) throw new Error(`document ${id} not found`);
    },
  };
}

/** Writes then reads, ours and raw (ABBA each); rows for `label`. */
async function compare(
  label: string,
  documents: number,
  writers: number,
  ours: { write: WriteFn; read: ReadFn },
  raw: { write: WriteFn; read: ReadFn },
  once: boolean,
): Promise<Row[]> {
  const ids: { ours: string[]; raw: string[] } = { ours: [], raw: [] };
  const recording = (side: 'ours' | 'raw', write: WriteFn): WriteFn => {
    return async (id, n) => {
      if (n === 0) ids[side].push(id);
      await write(id, n);
    };
  };
  const writes = await abba(
    () => measureWrites('raw', documents, writers, recording('raw', raw.write)),
    () => measureWrites('cw', documents, writers, recording('ours', ours.write)),
    once,
  );
  const reads = await abba(
    () => measureReads(ids.raw.slice(0, documents), writers, raw.read),
    () => measureReads(ids.ours.slice(0, documents), writers, ours.read),
    once,
  );
  return [
    ratioRow(
      `update (${WRITES_PER_DOCUMENT} writes per document), ${label}`,
      writes.ours,
      writes.raw,
      'writes/s',
    ),
    ratioRow(`get, ${label}`, reads.ours, reads.raw, 'reads/s'),
  ];
}

const label = (writers: number) => (writers === 1 ? 'sequential' : `${writers} writers`);

async function redisSuite(servers: Servers, report: Report): Promise<void> {
  const prefix = `bench:docs:${randomBytes(4).toString('hex')}:`;
  const connection = redisConnection({ url: servers.redisUrl, name: 'bench-docs' });
  const client = new Redis(servers.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  // The hand-written optimistic update: write only if the version read is still the stored one.
  const cas = `if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'doc', ARGV[3]) return 1`;
  const rows: Row[] = [];
  try {
    await connection.open();
    await client.connect();
    const sha = (await client.script('LOAD', cas)) as string;
    const raw = {
      write: async (id: string, n: number) => {
        const key = `${prefix}raw:${id}`;
        const [version, text] = await client.hmget(key, 'v', 'doc');
        const user = text ? { ...(JSON.parse(text) as User), count: n } : base(id);
        const from = Number(version ?? 0);
        const done = await client.evalsha(
          sha,
          1,
          key,
          String(from),
          String(from + 1),
          JSON.stringify(user),
        );
        if (done !== 1) throw new Error(`raw: conflict on ${id}`);
      },
      read: async (id: string) => {
        const [version, text] = await client.hmget(`${prefix}raw:${id}`, 'v', 'doc');
        if (!text) throw new Error(`raw document ${id} not found`);
        JSON.parse(text);
        void version;
      },
    };
    for (const [index, c] of CASES.entries()) {
      const documents = scaled(c.redis, c.writers);
      const store = new RedisEventStore({
        client: connection.client,
        keyPrefix: `${prefix}c${index}:`,
      });
      await store.init();
      progress(
        `documents redis: ${label(c.writers)} (${documents} documents × ${WRITES_PER_DOCUMENT} writes)`,
      );
      const ours = oursOver(store);
      await measureWrites('warm', c.writers * 4, c.writers, raw.write);
      await measureWrites('warm', c.writers * 4, c.writers, ours.write);
      rows.push(...(await compare(label(c.writers), documents, c.writers, ours, raw, false)));
    }
  } finally {
    await deleteKeys(client, prefix);
    client.disconnect();
    await connection.close();
  }
  report.table(
    'Documents: Redis event store — DocumentStore vs raw ioredis read + compare-and-set script of one JSON document',
    rows,
  );
}

async function mongoSuite(servers: Servers, report: Report): Promise<void> {
  const database = `bench_docs_${randomBytes(4).toString('hex')}`;
  const uri = withDatabase(servers.mongoUri, database);
  const connection = mongoConnection({ uri, name: 'bench-docs', maxPoolSize: 16 });
  const client = new MongoClient(uri, { maxPoolSize: 16 });
  const rows: Row[] = [];
  try {
    await connection.open();
    await client.connect();
    const collection: Collection<{ _id: string; version: number } & Partial<User>> = client
      .db(database)
      .collection('raw_users');
    const raw = {
      write: async (id: string, n: number) => {
        const found = await collection.findOne({ _id: id });
        if (!found) {
          await collection.insertOne({ _id: id, version: 1, ...base(id) });
          return;
        }
        const { _id, version, ...user } = found;
        const result = await collection.updateOne(
          { _id, version },
          { $set: { ...user, count: n, version: version + 1 } },
        );
        if (result.matchedCount !== 1) throw new Error(`raw: conflict on ${id}`);
      },
      read: async (id: string) => {
        if (!(await collection.findOne({ _id: id })))
          throw new Error(`raw document ${id} not found`);
      },
    };
    for (const [index, c] of CASES.entries()) {
      const documents = scaled(c.mongo, c.writers);
      const store = new MongoEventStore({
        connection: connection.client,
        collectionPrefix: `c${index}_`,
      });
      await store.init();
      progress(
        `documents mongodb: ${label(c.writers)} (${documents} documents × ${WRITES_PER_DOCUMENT} writes)`,
      );
      const ours = oursOver(store);
      await measureWrites('warm', c.writers, c.writers, raw.write);
      await measureWrites('warm', c.writers, c.writers, ours.write);
      rows.push(...(await compare(label(c.writers), documents, c.writers, ours, raw, true)));
    }
  } finally {
    await client.close();
    await connection.close();
    // Dropped once nothing queries it (FerretDB: never drop a database under live queries).
    const dropper = new MongoClient(uri);
    await dropper
      .db(database)
      .dropDatabase()
      .catch(() => undefined);
    await dropper.close();
  }
  report.table(
    'Documents: MongoDB (FerretDB) event store — DocumentStore vs raw mongodb findOne + updateOne on the version',
    rows,
  );
}

export async function documentsBench(servers: Servers): Promise<Report> {
  const report = new Report('documents');
  await redisSuite(servers, report);
  await mongoSuite(servers, report);
  report.note(
    'No target (the issues set none for S4). Ours keeps every change as events in the document stream (a load reads them all: 5 per document here, no snapshot) and appends one per write; the raw side keeps one JSON document and its version. On FerretDB every query but one by string _id scans its collection (ADR 006): our stream reads do, the raw findOne by _id does not.',
  );
  return report;
}
