import mongoose, { type Connection } from 'mongoose';
import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import { MongoReadStore } from '../src/mongodb';
import { describeReadStoreConformance } from '../src/testing/read-store.conformance';

// The read store contract against the real MongoDB-wire server (FerretDB locally): a
// collection per store, in this file's own database.
const ns = testNamespace('readmongo');
let connection: Connection;
let run = 0;

beforeAll(async () => {
  connection = await mongoose
    .createConnection(ns.mongoUri(), { serverSelectionTimeoutMS: 10_000 })
    .asPromise();
});
afterAll(async () => {
  await connection.close();
  await removeNamespaceData(ns, ['mongodb']); // once nothing queries it (FerretDB, ADR 006)
});

describeReadStoreConformance(
  'mongodb',
  ({ indexed }) =>
    new MongoReadStore({
      connection,
      collection: `rows${run++}`,
      indexes: indexed.map((field) => [field]),
      fields: indexed,
    }),
  // FerretDB runs the conditional replaceOne in two steps (ADR 006): one writer per row.
  { concurrentWriters: false, declaredFields: true },
);

describe('MongoReadStore', () => {
  it('creates the indexes of its options at init(), on the queried fields', async () => {
    const store = new MongoReadStore({
      connection,
      collection: 'indexed',
      indexes: [['status'], ['userId', 'updatedAt']],
    });
    await store.init();
    await store.init();
    const keys = (await connection.db!.collection('indexed').indexes()).map((index) => index.key);
    expect(keys).toEqual(
      expect.arrayContaining([
        { expiresAt: 1 },
        { 'fields.status': 1 },
        { 'fields.userId': 1, 'fields.updatedAt': 1 },
      ]),
    );
  });

  it('keeps an expired row until purgeExpired removes it (no TTL index on FerretDB)', async () => {
    const store = new MongoReadStore({ connection, collection: 'expiring' });
    await store.init();
    await store.put('a', { status: 'x' }, { ttlMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const raw = connection.db!.collection('expiring');
    await expect(store.get('a')).resolves.toBeUndefined();
    await expect(raw.countDocuments({})).resolves.toBe(1);
    await expect(store.purgeExpired()).resolves.toBe(1);
    await expect(raw.countDocuments({})).resolves.toBe(0);
  });

  it('ends a race of two versioned puts of a new row with the newer one', async () => {
    // Both upserts find no row and insert; the loser's insert fails on the _id. That loser may
    // hold the newer version: it must then replace the row, not answer "a newer row stands".
    const store = new MongoReadStore({ connection, collection: 'racing' });
    await store.init();
    const lost: string[] = [];
    for (let round = 0; round < 40; round++) {
      const id = `r${round}`;
      const [older, newer] = await Promise.all([
        store.put(id, { v: 1 }, { version: 1 }),
        store.put(id, { v: 2 }, { version: 2 }),
      ]);
      const stored = await store.get(id);
      if (stored?.v !== 2 || !newer)
        lost.push(`${id}: v1 ${older}, v2 ${newer}, stored v${stored?.v}`);
    }
    expect(lost).toEqual([]);
  });

  it('refuses a row over the document limit, naming the id and the limit, writing nothing', async () => {
    const store = new MongoReadStore({ connection, collection: 'large' });
    await store.init();
    await store.put('big', { status: 'small' });
    // 9 MB of JSON, kept twice (the JSON and the queried `fields.body`): over 16 MiB.
    const row = { status: 'x', body: 'x'.repeat(9 * 1024 * 1024) };
    await expect(store.put('big', row)).rejects.toThrow(
      new RangeError(
        `MongoReadStore: the row "big" takes 18874459 bytes as a document, over MongoDB's ` +
          'maximum of 16777216: not written; keep large values out of read rows (a top-level ' +
          'string counts twice: in the JSON and in the queried fields)',
      ),
    );
    await expect(store.get('big')).resolves.toEqual({ status: 'small' });
  }, 60_000);

  it('refuses bad options, naming them', () => {
    expect(() => new MongoReadStore({ connection, collection: '' })).toThrow(
      'MongoReadStore: options.collection must be a non-empty string',
    );
    expect(() => new MongoReadStore({ connection, collection: 'x', indexes: [['a.b']] })).toThrow(
      TypeError,
    );
    // A field name where the lists go failed with "….map is not a function".
    expect(
      () => new MongoReadStore({ connection, collection: 'x', indexes: 'status' as never }),
    ).toThrow(
      new TypeError(
        `MongoReadStore: options.indexes must be an array of field lists (e.g. [['status']]), got "status"`,
      ),
    );
    expect(
      () => new MongoReadStore({ connection, collection: 'x', fields: 'status' as never }),
    ).toThrow(
      new TypeError('MongoReadStore: options.fields must be an array of field names, got "status"'),
    );
    expect(
      () => new MongoReadStore({ connection, collection: 'x', indexes: [['status', '__proto__']] }),
    ).toThrow(
      new TypeError(
        'MongoReadStore: options.indexes[0] field must not be __proto__ (an object\'s prototype, not a field: rows cannot hold it), got "__proto__"',
      ),
    );
  });
});
