import mongoose, { type Connection } from 'mongoose';
import { testNamespace } from '@causeway/testkit';
import { MongoSnapshotStore } from '../src/mongodb/mongodb.snapshot-store';
import { describeSnapshotStoreConformance } from '../src/testing/snapshot-store.conformance';

// The snapshot store contract against the real MongoDB-wire server (FerretDB locally).
const ns = testNamespace('snap');
let connection: Connection;

beforeAll(async () => {
  connection = await mongoose
    .createConnection(ns.mongoUri(), { serverSelectionTimeoutMS: 10_000 })
    .asPromise();
});
afterAll(async () => {
  await connection.dropDatabase();
  await connection.close();
});

describeSnapshotStoreConformance(
  'mongodb',
  (options) => new MongoSnapshotStore({ connection, collection: 'snapshots', ...options }),
);

describe('MongoSnapshotStore', () => {
  it('creates the indexes it relies on in init()', async () => {
    const store = new MongoSnapshotStore({ connection, collection: 'indexed' });
    await store.init();
    const indexes = await connection.db!.collection('indexed').indexes();
    expect(indexes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          key: { streamId: 1, schemaVersion: 1, version: -1 },
          unique: true,
        }),
        expect.objectContaining({ key: { streamId: 1, version: -1 } }),
      ]),
    );
  });

  it('stores the state as opaque bytes, never as a document with the state keys', async () => {
    const store = new MongoSnapshotStore({ connection, collection: 'opaque' });
    await store.init();
    await store.save({
      streamId: 's',
      version: 1,
      schemaVersion: 1,
      state: { 'a.b': 1 },
      createdAt: new Date().toISOString(),
    });
    const raw = await connection.db!.collection('opaque').findOne({ streamId: 's' });
    expect(raw?.payload?._bsontype).toBe('Binary');
    expect(raw).not.toHaveProperty('state');
  });

  it('refuses an invalid retention count', () => {
    expect(() => new MongoSnapshotStore({ connection, keep: 0 })).toThrow(RangeError);
  });
});
