import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import { mongoConnection, MongoEventStore } from '../src/mongodb';
import { describeDocumentStoreConformance } from '../src/testing';

// The document store (S4) over the MongoDB event store on the real MongoDB-wire server (FerretDB
// locally): the change and its events are one commit document, atomic without transactions.
const ns = testNamespace('docsmongo');
const connection = mongoConnection({ uri: ns.mongoUri(), name: 'documents', maxPoolSize: 8 });
let eventStore: MongoEventStore;

beforeAll(async () => {
  await connection.open();
  eventStore = new MongoEventStore({ connection: connection.client });
  await eventStore.init();
});
afterAll(async () => {
  await connection.close();
  await removeNamespaceData(ns, ['mongodb']); // once nothing queries it (FerretDB, ADR 006)
});

describeDocumentStoreConformance('mongodb', async () => ({ eventStore }));
