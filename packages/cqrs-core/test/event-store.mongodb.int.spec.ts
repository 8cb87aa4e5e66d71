import { testNamespace } from '@causeway/testkit';
import { type EventStore } from '../src';
import { type CommitDocument, mongoConnection, MongoEventStore } from '../src/mongodb';
import { describeEventStoreConformance } from '../src/testing';

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
