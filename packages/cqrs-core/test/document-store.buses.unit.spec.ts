import { randomUUID } from 'node:crypto';
import {
  deduplicator,
  DocumentStore,
  documentCollection,
  EventBus,
  EventForwarder,
  InMemoryBroker,
  InMemoryCheckpointStore,
  InMemoryDeduplicationStore,
  InMemoryEventStore,
  InMemorySubscriber,
  Router,
  SerializerRegistry,
  topicNaming,
} from '../src';
import { documentsOnBus, documentsSerializer, EXPECTED_ON_BUS } from './fixtures/documents-on-bus';

// S4-5 on the embedded mode's pieces: documents' events reach the in-memory bus in order.
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('documents on the in-memory bus', () => {
  it('delivers every change with its events, in order per document', async () => {
    const serializer = documentsSerializer();
    const broker = new InMemoryBroker({ serializer });
    const subscriber = new InMemorySubscriber(broker);
    try {
      const seen = await documentsOnBus({
        eventStore: new InMemoryEventStore({ serializer }),
        publisher: broker,
        subscriber,
        topic: 'documents.users',
      });
      expect(seen).toEqual(EXPECTED_ON_BUS);
    } finally {
      await subscriber.close();
      await broker.close();
    }
  });

  // One command writing two documents: each document's events have ids of their own, so a
  // deduplicating consumer takes neither for the other.
  it('welcomes both users one command created, behind a deduplicator', async () => {
    const users = documentCollection<{ name: string }>('team', { aggregateType: 'User' });
    const serializer = new SerializerRegistry();
    for (const type of users.messageTypes) serializer.register(type);
    const broker = new InMemoryBroker({ serializer });
    const eventStore = new InMemoryEventStore({ serializer });
    const documents = new DocumentStore({ eventStore });
    const naming = topicNaming('team.');
    const router = new Router({
      subscriber: broker.subscriber(),
      service: 'mail',
      instanceId: 'm1',
    });
    router.use(deduplicator({ store: new InMemoryDeduplicationStore() }));
    const events = new EventBus({ publisher: broker, router, naming });
    const welcomed: string[] = [];
    events.on(users.created, (event) => void welcomed.push(users.idOf(event.aggregateId)!), {
      name: 'welcome',
    });
    await router.run();
    const forwarder = new EventForwarder({
      store: eventStore,
      publisher: broker,
      checkpoints: new InMemoryCheckpointStore(),
      topicOf: (event) => naming.event(event.type),
      pollIntervalMs: 10,
    });
    forwarder.start();
    try {
      const commandId = randomUUID();
      await documents.update(users, 'brock', () => ({ name: 'Brock' }), { commandId });
      await documents.update(users, 'misty', () => ({ name: 'Misty' }), { commandId });
      for (const deadline = Date.now() + 3_000; welcomed.length < 2 && Date.now() < deadline;)
        await wait(10);
      expect(welcomed.sort()).toEqual(['brock', 'misty']);
    } finally {
      await forwarder.stop();
      await router.close();
    }
  });
});
