import { z } from 'zod';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { SerializerRegistry } from '../messages/serializer.registry';
import { testEnvelope } from '../testing/envelope.fixture';
import { forwarderProbe } from './forwarder.probe';
import { forwarderToBroker, until } from './forwarder.fixture';
import { UnreadableEventError } from './unpublishable-event.error';

/**
 * The store and the publisher share one registry (as trainer-service's do): an event the current
 * schema refuses fails the rounds' read of the store, not their publish.
 */
describe('EventForwarder at an event its store cannot read', () => {
  async function setUp() {
    const registry = new SerializerRegistry().register('Moved', z.object({ n: z.number() }));
    const store = new InMemoryEventStore({ serializer: registry });
    const { forwarder, seen, errors, broker } = await forwarderToBroker({
      store,
      serializer: registry,
    });
    await store.append(
      's1',
      [1, 20, 3].map((n) => testEnvelope('Moved', { n }, { aggregateId: 's1' })),
      { expectedVersion: 'no-stream' },
    );
    // A deploy tightens the schema: the stored n = 20 no longer passes it.
    registry.register('Moved', z.object({ n: z.number().max(10) }));
    return { forwarder, seen, errors, registry, broker };
  }

  it('says it is blocked, naming the event, until a round reads past it', async () => {
    const { forwarder, seen, errors, registry, broker } = await setUp();
    const probe = forwarderProbe(forwarder);
    const before = new Date();
    forwarder.start();
    try {
      await until(() => errors.length >= 2);
      // Nothing reaches the bus: every round fails on the read.
      expect(seen).toEqual([]);
      const block = forwarder.blocked!;
      expect(block).toBeDefined();
      expect(block.error).toBeInstanceOf(UnreadableEventError);
      expect(block.error).toMatchObject({ streamId: 's1', version: 2, position: 2 });
      expect(block.since.getTime()).toBeGreaterThanOrEqual(before.getTime());
      await until(() => errors.length >= 3);
      // Since the first round that failed on it, not the latest.
      expect(forwarder.blocked!.since).toEqual(block.since);
      await expect(probe.check()).rejects.toThrow(
        /the outbox is blocked since .*: the event at position 2 \(stream s1, version 2\) cannot be read: Invalid Moved: n/,
      );

      // The fix is deployed (a schema that accepts the stored data): the rounds go on.
      registry.register('Moved', z.object({ n: z.number() }));
      await until(() => seen.length === 3);
      expect(seen).toEqual([1, 20, 3]);
      expect(forwarder.blocked).toBeUndefined();
      await expect(probe.check()).resolves.toBeUndefined();
    } finally {
      await forwarder.stop();
      await broker.close();
    }
  });
});
