import { InMemoryEventStore } from '../src';
import { describeDocumentStoreConformance } from '../src/testing';

// The document store (S4) over the in-memory event store: the embedded mode's backend.
describeDocumentStoreConformance('in-memory', async () => ({
  eventStore: new InMemoryEventStore(),
}));
