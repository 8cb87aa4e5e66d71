import { CheckpointPastEndError } from '../event-store/event-store.errors';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { type EventStore, type SubscriptionOptions } from '../event-store/event-store.port';
import { testEnvelope } from '../testing/envelope.fixture';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { SerializerRegistry } from '../messages/serializer.registry';
import { InMemoryCheckpointStore } from './checkpoint-store.port';
import { EventForwarder } from './event.forwarder';
import { forwarderProbe } from './forwarder.probe';
import { until } from './forwarder.fixture';

// The conformance suite (checkpoint scenarios) runs the forwarder past the end on every backend;
// these are the forwarder's own cases.
describe('EventForwarder started from a checkpoint past the end of the log', () => {
  async function setUp(store: EventStore) {
    await store.append('s1', [testEnvelope('Moved', { n: 1 }, { aggregateId: 's1' })], {
      expectedVersion: 'no-stream',
    });
    const checkpoints = new InMemoryCheckpointStore();
    await checkpoints.save('outbox', 5_000);
    const errors: unknown[] = [];
    const forwarder = new EventForwarder({
      store,
      publisher: new InMemoryBroker({ serializer: new SerializerRegistry() }),
      checkpoints,
      name: 'outbox',
      topicOf: (event) => `events.${event.type}`,
      pollIntervalMs: 5,
      onError: (error) => errors.push(error),
    });
    return { errors, forwarder, checkpoints };
  }

  it('checks again when the first check could not answer (the store away)', async () => {
    const inner = new InMemoryEventStore();
    let away = true;
    // The store's own subscription, failing its first start as one whose server is away does.
    const store: EventStore = Object.create(inner, {
      subscribe: {
        value: (options: SubscriptionOptions) =>
          inner.subscribe({
            ...options,
            onCaughtUp: (position) =>
              away ? options.onError?.(new Error('store away')) : options.onCaughtUp?.(position),
            onError: (error) =>
              away ? options.onError?.(new Error('store away')) : options.onError?.(error),
          }),
      },
    }) as EventStore;
    const { errors, forwarder } = await setUp(store);
    forwarder.start();
    try {
      await until(() => errors.length >= 1);
      expect(errors[0]).toEqual(new Error('store away'));
      away = false;
      await until(() => errors.some((error) => error instanceof CheckpointPastEndError));
    } finally {
      await forwarder.stop();
    }
  });

  it('is reported by its health probe once the rounds have failed for failingForMs', async () => {
    const { errors, forwarder } = await setUp(new InMemoryEventStore());
    const probe = forwarderProbe(forwarder, 'outbox', { failingForMs: 0 });
    forwarder.start();
    try {
      await until(() => errors.length >= 1);
      await expect(probe.check()).rejects.toThrow(
        "CheckpointPastEndError: event forwarder outbox's checkpoint 5000 is past the end of " +
          "the event store's log (1)",
      );
    } finally {
      await forwarder.stop();
    }
  });
});
