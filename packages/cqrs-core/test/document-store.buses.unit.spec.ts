import { InMemoryBroker, InMemoryEventStore, InMemorySubscriber } from '../src';
import { documentsOnBus, documentsSerializer, EXPECTED_ON_BUS } from './fixtures/documents-on-bus';

// S4-5 on the embedded mode's pieces: documents' events reach the in-memory bus in order.
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
});
