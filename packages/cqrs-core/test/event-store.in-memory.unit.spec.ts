import { createInMemoryEventStorage, InMemoryEventStore } from '../src';
import { describeEventStoreConformance } from '../src/testing';

// The in-memory store passes the same conformance suite as the server-backed stores. Several
// store instances share one storage, like processes sharing a server.
describeEventStoreConformance('in-memory', { densePositions: true }, async () => {
  const storage = createInMemoryEventStorage();
  const store = new InMemoryEventStore({ storage });
  await store.init();
  return {
    store,
    async connect(options = {}) {
      const other = new InMemoryEventStore({ storage, serializer: options.serializer });
      await other.init();
      return other;
    },
    async corrupt(streamId, version) {
      const record = storage.streams.get(streamId)?.events.find((r) => r.version === version);
      if (!record) throw new Error(`no event ${streamId}@${version} to corrupt`);
      record.serialized = { ...record.serialized, data: JSON.stringify({ tampered: true }) };
    },
    async dispose() {
      await store.close();
    },
  };
});
