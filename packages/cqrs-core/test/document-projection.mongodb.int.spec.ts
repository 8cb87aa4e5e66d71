import mongoose, { type Connection } from 'mongoose';
import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import {
  documentCollection,
  documentProjection,
  DocumentStore,
  InMemoryCheckpointStore,
  JsonSerializer,
  ProjectionRunner,
} from '../src';
import { MongoEventStore, MongoReadStore } from '../src/mongodb';

// Documents as MongoDB read-store rows (FerretDB locally). MongoReadStore keeps a row's JSON and
// its top-level strings again (the queried fields) in one document of at most 16 MiB: a document
// whose bulk was one ~9 MiB top-level string was stored by the document store (the event store
// keeps it once), and then documentProjection's put refused its row on every retry, so the
// projection stopped there for good. The collection now refuses such a document before writing.
const ns = testNamespace('docrows');
let connection: Connection;

beforeAll(async () => {
  connection = await mongoose
    .createConnection(ns.mongoUri(), { serverSelectionTimeoutMS: 10_000 })
    .asPromise();
});
afterAll(async () => {
  await connection.close();
  await removeNamespaceData(ns, ['mongodb']); // once nothing queries it (FerretDB, ADR 006)
});

const MIB = 1024 * 1024;
// Events as large as MongoDB takes (the serializer's default stops at 1.5 MiB).
const eventStoreOf = async () => {
  const eventStore = new MongoEventStore({
    connection,
    serializer: new JsonSerializer({ maxMessageBytes: 16 * MIB }),
  });
  await eventStore.init();
  return eventStore;
};

describe('documentProjection into MongoReadStore', () => {
  it('never stores a document whose row MongoDB could not hold, so the projection goes on', async () => {
    const eventStore = await eventStoreOf();
    const rows = new MongoReadStore({ connection, collection: 'profiles' });
    await rows.init();
    const profiles = documentCollection<{ name: string; bio?: string }>('profiles');
    const documents = new DocumentStore({ eventStore });
    await expect(
      documents.update(profiles, 'big', () => ({ name: 'Big', bio: 'x'.repeat(9 * MIB) })),
    ).rejects.toThrow(
      /^Document profiles\/big would take \d+ bytes as a read-store row .* over the collection's maxRowBytes of 16777216: not written/,
    );
    await expect(eventStore.readStream('profiles-big')).resolves.toEqual([]);
    await documents.update(profiles, 'ash', () => ({ name: 'Ash', bio: 'trainer' }));
    const runner = new ProjectionRunner({ eventStore, checkpoints: new InMemoryCheckpointStore() });
    runner.start(documentProjection(profiles, rows));
    try {
      await runner.whenCaughtUp();
      await expect(rows.get('ash')).resolves.toEqual({ name: 'Ash', bio: 'trainer' });
      expect(runner.status()[0]).toMatchObject({ failures: 0, skipped: 0 });
    } finally {
      await runner.stop();
    }
  });

  it('stores the row of the largest document the collection takes', async () => {
    const profiles = documentCollection<{ bio: string }>('profiles');
    const documents = new DocumentStore({ eventStore: await eventStoreOf() });
    const rows = new MongoReadStore({ connection, collection: 'largest' });
    await rows.init();
    // The row's size as the collection bounds it: its JSON ({"bio":"…"}, 10 bytes besides the
    // string) and the string again, with its key and 10 bytes, plus the id and 128 bytes.
    const largest = (16 * MIB - 128 - 'id'.length - 10 - 'bio'.length - 10) / 2;
    const refused = documents.update(profiles, 'id', () => ({ bio: 'x'.repeat(largest + 1) }));
    await expect(refused).rejects.toThrow(RangeError);
    const { document } = await documents.update(profiles, 'id', () => ({
      bio: 'x'.repeat(largest),
    }));
    await expect(rows.put('id', document!)).resolves.toBe(true);
    await expect(rows.get('id')).resolves.toEqual({ bio: 'x'.repeat(largest) });
  });
});
