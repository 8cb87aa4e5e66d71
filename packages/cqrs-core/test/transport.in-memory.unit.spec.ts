import { InMemoryBroker, IN_MEMORY_FEATURES, type InMemorySubscriber } from '../src';
import { describeTransportConformance } from '../src/testing';

describeTransportConformance(
  'in-memory',
  IN_MEMORY_FEATURES,
  async ({ serializer, onPoison, maxMessageBytes }) => {
    const broker = new InMemoryBroker({
      serializer,
      onPoison,
      maxMessageBytes,
      redeliveryDelayMs: 20,
    });
    return {
      publisher: broker,
      subscriber: () => broker.subscriber(),
      crash: async (subscriber) => (subscriber as InMemorySubscriber).kill(),
      publishRaw: async (topic, key, raw) => broker.publishRaw(topic, key, raw),
      close: () => broker.close(),
    };
  },
);
