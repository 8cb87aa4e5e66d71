import { testNamespace } from '@causeway/testkit';
import { type EventStore, MessageTooLargeError } from '../src';
import {
  type BeaconDocument,
  CommitTooLargeError,
  type CommitDocument,
  mongoConnection,
  MongoCommitLog,
  MongoEventStore,
  MongoSnapshotStore,
} from '../src/mongodb';
import { describeEventStoreConformance, testEnvelope } from '../src/testing';

// The MongoDB event store against a real server speaking the MongoDB protocol (FerretDB locally);
// this file owns its database. Every "process" gets its own connection, so writers really race.
//
// The no-skip load is 8 writers x 125 appends by default: FerretDB 1.x on SQLite serializes
// writes and scans the whole collection for every query (see docs/adr/003), so the full
// 8 x 1000 takes minutes there. Against a real MongoDB set ES_NO_SKIP_APPENDS=1000.
const appendsPerWriter = Number(process.env.ES_NO_SKIP_APPENDS ?? 125);

describeEventStoreConformance(
  'mongodb',
  { densePositions: false, noSkip: { writers: 8, appendsPerWriter } },
  async () => {
    const ns = testNamespace('esmongo');
    const connections: ReturnType<typeof mongoConnection>[] = [];
    const open = async (
      serializer?: ConstructorParameters<typeof MongoEventStore>[0]['serializer'],
    ): Promise<MongoEventStore> => {
      const connection = mongoConnection({
        uri: ns.mongoUri(),
        name: `es-${connections.length}`,
        maxPoolSize: 4,
      });
      connections.push(connection);
      await connection.open();
      const store = new MongoEventStore({ connection: connection.client, serializer });
      await store.init();
      return store;
    };
    const store: EventStore = await open();
    const db = connections[0]!.client.db!;
    return {
      store,
      connect: (options = {}) => open(options.serializer),
      async corrupt(streamId, version) {
        const commits = db.collection<CommitDocument>('events_commits');
        const commit = await commits.findOne({
          streamId,
          firstVersion: { $lte: version },
          lastVersion: { $gte: version },
        });
        if (!commit) throw new Error(`no event ${streamId}@${version} to corrupt`);
        const events = commit.events.map((e) =>
          e.version === version ? { ...e, data: JSON.stringify({ tampered: true }) } : e,
        );
        await commits.updateOne({ _id: commit._id }, { $set: { events } });
      },
      async dispose() {
        await db.dropDatabase();
        for (const connection of connections) await connection.close();
      },
    };
  },
);

describe('MongoEventStore.init() and the indexes already there', () => {
  const ns = testNamespace('esmongoidx');
  const connection = mongoConnection({ uri: ns.mongoUri(), name: 'es-indexes', maxPoolSize: 2 });
  const db = () => connection.client.db!;
  const indexesOf = async (collection: string) =>
    (await db().collection(collection).listIndexes().toArray()).map((index) => ({
      name: index.name as string,
      key: index.key as Record<string, number>,
    }));

  beforeAll(() => connection.open());
  afterAll(async () => {
    await db().dropDatabase();
    await connection.close();
  });

  it('creates what is missing, accepts an index with the same keys under another name, and works', async () => {
    await db().createCollection('kept_commits');
    await db()
      .collection('kept_commits')
      .createIndex({ streamId: 1, lastVersion: 1 }, { name: 'built_by_hand' });
    const store = new MongoEventStore({ connection: connection.client, collectionPrefix: 'kept_' });
    await store.init();
    const names = (await indexesOf('kept_commits')).map((index) => index.name).sort();
    expect(names).toEqual([
      '_id_',
      'built_by_hand',
      'stream_messages',
      'stream_version',
      'types_slot',
    ]);
    await store.init(); // a restart: nothing to create, nothing refused
    expect((await indexesOf('kept_commits')).length).toBe(5);
    const event = testEnvelope('Kept', { n: 1 });
    await store.append('kept-1', [event], { expectedVersion: 'no-stream' });
    await expect(store.readStream('kept-1', { fromVersion: 1 })).resolves.toMatchObject([
      { messageId: event.messageId, version: 1 },
    ]);
  });

  it('refuses to start, naming collection and index, when an index of ours has other keys', async () => {
    await db().createCollection('clash_commits');
    await db()
      .collection('clash_commits')
      .createIndex({ streamId: 1, at: 1 }, { name: 'stream_last' });
    const store = new MongoEventStore({
      connection: connection.client,
      collectionPrefix: 'clash_',
    });
    await expect(store.init()).rejects.toThrow(
      'Collection "clash_commits": index "stream_last" has keys {"streamId":1,"at":1}, expected {"streamId":1,"lastVersion":1}',
    );
  });

  it('refuses an index on our keys whose uniqueness differs (stream_version must be unique)', async () => {
    await db().createCollection('loose_commits');
    await db()
      .collection('loose_commits')
      .createIndex({ streamId: 1, firstVersion: 1 }, { name: 'not_unique' });
    const store = new MongoEventStore({
      connection: connection.client,
      collectionPrefix: 'loose_',
    });
    await expect(store.init()).rejects.toThrow(
      'Collection "loose_commits": index "not_unique" on {"streamId":1,"firstVersion":1} is not unique, expected unique',
    );
  });
});

describe('MongoCommitLog after an insert whose outcome it does not know', () => {
  const ns = testNamespace('esmongolog');
  const connection = mongoConnection({ uri: ns.mongoUri(), name: 'es-log', maxPoolSize: 2 });
  const db = () => connection.client.db!;

  beforeAll(() => connection.open());
  afterAll(async () => {
    await db().dropDatabase();
    await connection.close();
  });

  const commit = (streamId: string, version: number) => ({
    streamId,
    firstVersion: version,
    lastVersion: version,
    events: [],
    types: [],
    messageIds: [],
  });

  it('reads the end of the log again, so a slot rolled back meanwhile is filled, not skipped', async () => {
    const commits = db().collection<CommitDocument>('log_commits');
    const meta = db().collection<BeaconDocument>('log_meta');
    const log = new MongoCommitLog(commits, meta);
    await log.refresh();
    await expect(log.insert(commit('a', 1))).resolves.toEqual({ kind: 'inserted', slot: 1 });
    await expect(log.insert(commit('a', 2))).resolves.toEqual({ kind: 'inserted', slot: 2 });
    // What a replica-set failover does to a write a majority had not acknowledged: it is gone.
    await commits.deleteOne({ _id: 2 });
    // An insert that fails without a duplicate-key answer (here the server refuses a field name;
    // in production a lost connection): the writer cannot know what the log still holds.
    const refused = { ...commit('b', 1), $refused: true } as unknown as ReturnType<typeof commit>;
    await expect(log.insert(refused)).rejects.toThrow();
    // The next insert goes to slot 2 again: the log stays a prefix 1..M with no hole.
    await expect(log.insert(commit('c', 1))).resolves.toEqual({ kind: 'inserted', slot: 2 });
    const slots = (await commits.find({}, { projection: { _id: 1 } }).toArray()).map((c) => c._id);
    expect(slots.sort((x, y) => x - y)).toEqual([1, 2]);
  });
});

describe('MongoEventStore removals racing on one stream', () => {
  const ns = testNamespace('esmongorace');
  const connection = mongoConnection({ uri: ns.mongoUri(), name: 'race', maxPoolSize: 8 });
  let store: MongoEventStore;

  beforeAll(async () => {
    await connection.open();
    store = new MongoEventStore({ connection: connection.client });
    await store.init();
  });

  afterAll(async () => {
    await connection.client.db!.dropDatabase();
    await connection.close();
  });

  const fill = (streamId: string) =>
    store.append(
      streamId,
      Array.from({ length: 10 }, (_, i) => testEnvelope('Raced', { i })),
      { expectedVersion: 'no-stream' },
    );

  it('never fails with a duplicate key when the first removals of a stream race', async () => {
    const streams = Array.from({ length: 16 }, (_, i) => `race-${i}`);
    for (const streamId of streams) await fill(streamId);
    const outcomes = await Promise.allSettled(
      streams.flatMap((streamId) => [
        store.truncateStream(streamId, 5),
        store.deleteStream(streamId, { mode: 'soft' }),
        store.applyRetention({ maxCount: 3, streamPrefix: streamId }),
      ]),
    );
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
    expect(failures).toEqual([]);
  });

  it('strips, at the next retention run, events a racing removal left below the first readable version', async () => {
    await fill('left-over');
    await store.append('left-over', [testEnvelope('Raced', { i: 10 })], { expectedVersion: 10 });
    // What a lost race leaves behind: the first readable version raised, the events still there.
    await connection.client
      .db!.collection('events_streams')
      .updateOne({ _id: 'left-over' as never }, { $set: { firstVersion: 8 } }, { upsert: true });
    const visible = async () =>
      (await store.readAll({ fromPosition: 0 }))
        .filter((e) => e.streamId === 'left-over')
        .map((e) => e.version);
    expect(await visible()).toHaveLength(11);
    // Not past where the readers got to, leftovers neither.
    await expect(store.applyRetention({ streamPrefix: 'left-over', maxPosition: 0 })).resolves.toBe(
      0,
    );
    expect(await visible()).toHaveLength(11);
    await expect(store.applyRetention({ streamPrefix: 'left-over' })).resolves.toBe(7);
    expect(await visible()).toEqual([8, 9, 10, 11]);
    expect((await store.readStream('left-over')).map((e) => e.version)).toEqual([8, 9, 10, 11]);
  });
});

describe('MongoEventStore and MongoSnapshotStore: documents over MongoDB 16 MiB', () => {
  // FerretDB stores such a document; MongoDB refuses it (code 2 / 17420). Both stores refuse it
  // themselves, before anything is written, so that both servers behave alike.
  const ns = testNamespace('esmongosize');
  const connection = mongoConnection({ uri: ns.mongoUri(), name: 'es-size', maxPoolSize: 2 });
  let store: MongoEventStore;

  beforeAll(async () => {
    await connection.open();
    store = new MongoEventStore({ connection: connection.client });
    await store.init();
  });
  afterAll(async () => {
    await connection.client.db!.dropDatabase();
    await connection.close();
  });

  it('refuses an append whose events take more than 16 MiB as one commit, and writes nothing', async () => {
    // Twelve events of ~1.4 MB: each under the serializer's limit, together ~17 MB.
    const big = 'x'.repeat(1_400_000);
    const events = Array.from({ length: 12 }, (_, i) => testEnvelope('Big', { i, big }));
    const refused = store.append('big-1', events, { expectedVersion: 'no-stream' });
    await expect(refused).rejects.toThrow(CommitTooLargeError);
    await expect(refused).rejects.toThrow(MessageTooLargeError);
    await expect(refused).rejects.toThrow(
      /Cannot append 12 events to big-1 at once: as one document they take \d+ bytes, over MongoDB's maximum of 16777216; split the append/,
    );
    expect(await store.readStream('big-1')).toEqual([]);
    // Split, the same events are stored.
    await store.append('big-1', events.slice(0, 6), { expectedVersion: 'no-stream' });
    await store.append('big-1', events.slice(6), { expectedVersion: 6 });
    expect((await store.readStream('big-1')).map((e) => e.version)).toHaveLength(12);
  });

  it('refuses a snapshot over 16 MiB as a document, and keeps the previous one', async () => {
    const snapshots = new MongoSnapshotStore({
      connection: connection.client,
      compression: 'none',
    });
    await snapshots.init();
    const at = (version: number, state: unknown) => ({
      streamId: 'big-2',
      version,
      schemaVersion: 1,
      state,
      createdAt: new Date().toISOString(),
    });
    await snapshots.save(at(1, { small: true }));
    await expect(snapshots.save(at(2, { big: 'y'.repeat(17 * 1024 * 1024) }))).rejects.toThrow(
      /The snapshot of big-2 at version 2 takes \d+ bytes as a document, over MongoDB's maximum of 16777216/,
    );
    await expect(snapshots.loadLatest('big-2', { schemaVersion: 1 })).resolves.toMatchObject({
      version: 1,
      state: { small: true },
    });
  });
});

describe('MongoEventStore.readAllPage over commits that retention emptied', () => {
  const ns = testNamespace('esmongostubs');
  const connection = mongoConnection({
    uri: ns.mongoUri(),
    name: 'stubs',
    maxPoolSize: 2,
    options: { monitorCommands: true },
  });
  beforeAll(() => connection.open());
  afterAll(async () => {
    await connection.client.db!.dropDatabase();
    await connection.close();
  });

  it('reads them by the batch and within a budget, so a reader checkpoints past them', async () => {
    // A review (session 35): a page read emptied commits one query each, all of them in one call.
    const store = new MongoEventStore({
      connection: connection.client,
      readBatchSize: 20,
      readAllBudget: 60,
    });
    await store.init();
    for (let i = 0; i < 120; i++)
      await store.append(`old-${i}`, [testEnvelope('E', { i })], { expectedVersion: 'no-stream' });
    // Retention empties the commits; they stay (slots are never deleted).
    expect(await store.applyRetention({ maxCount: 0, streamPrefix: 'old-' })).toBe(120);
    await store.append('live', [testEnvelope('E', { live: true })], {
      expectedVersion: 'no-stream',
    });
    let finds = 0;
    const count = (event: { commandName: string; command: Record<string, unknown> }) => {
      if (event.commandName === 'find' && event.command.find === 'events_commits') finds++;
    };
    const client = connection.client.getClient();
    client.on('commandStarted', count);
    try {
      // A tailing reader with `limit: 1` (pollingSubscription's after a read error).
      const first = await store.readAllPage({ fromPosition: 0, limit: 1 });
      expect(first).toMatchObject({ events: [], caughtUp: false });
      expect(first.position).toBeGreaterThan(0);
      // 1 commit asked for, then batches of 20, up to the budget of 60.
      expect(finds).toBeLessThanOrEqual(4);
      const pages = [first];
      while (!pages.at(-1)!.caughtUp && pages.length < 10)
        pages.push(await store.readAllPage({ fromPosition: pages.at(-1)!.position, limit: 1 }));
      expect(pages.flatMap((page) => page.events.map((event) => event.streamId))).toEqual(['live']);
      expect(pages.length).toBeLessThanOrEqual(4);
      expect(finds).toBeLessThanOrEqual(16);
    } finally {
      client.off('commandStarted', count);
    }
  });

  it('refuses a budget or batch size that is not a positive integer, naming it', () => {
    expect(() => new MongoEventStore({ connection: connection.client, readAllBudget: 0 })).toThrow(
      'options.readAllBudget must be a positive integer, got 0',
    );
    expect(
      () => new MongoEventStore({ connection: connection.client, readBatchSize: 2.5 }),
    ).toThrow('options.readBatchSize must be a positive integer, got 2.5');
  });
});
