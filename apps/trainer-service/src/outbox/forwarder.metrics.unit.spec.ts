import {
  EventForwarder,
  InMemoryBroker,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  SerializerRegistry,
} from '@causeway/cqrs-core';
import { testEnvelope } from '@causeway/cqrs-core/testing';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { registerForwarderMetrics } from './forwarder.metrics';

/** The value of an unlabelled metric as the exposition text shows it (a scrape). */
async function scraped(registry: Registry, name: string): Promise<number | undefined> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

const until = async (done: () => boolean | Promise<boolean>) => {
  for (const deadline = Date.now() + 5_000; !(await done());) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

describe('registerForwarderMetrics', () => {
  it('shows causeway_forwarder_blocked = 1 while the rounds are stopped at an unpublishable event', async () => {
    const store = new InMemoryEventStore();
    // The publisher's registry does not know `Opened`: the forwarder (no deadLetters) stops there.
    const serializer = new SerializerRegistry().register('Moved', z.object({ n: z.number() }));
    const broker = new InMemoryBroker({ serializer });
    const errors: unknown[] = [];
    const forwarder = new EventForwarder({
      store,
      publisher: broker,
      checkpoints: new InMemoryCheckpointStore(),
      topicOf: (event) => `events.${event.type}`,
      pollIntervalMs: 5,
      onError: (error) => errors.push(error),
    });
    const registry = new Registry();
    let holding = true;
    registerForwarderMetrics(registry, forwarder, () => holding);
    await store.append(
      't1',
      [
        testEnvelope('Moved', { n: 1 }, { aggregateId: 't1' }),
        testEnvelope('Opened', { n: 2 }, { aggregateId: 't1' }),
      ],
      { expectedVersion: 'no-stream' },
    );
    try {
      expect(await scraped(registry, 'causeway_forwarder_blocked')).toBe(0);
      forwarder.start();
      await until(() => errors.length >= 2);
      expect(await scraped(registry, 'causeway_forwarder_blocked')).toBe(1);
      // Another instance took the lease: this one is not the blocked forwarder.
      holding = false;
      expect(await scraped(registry, 'causeway_forwarder_blocked')).toBe(0);
      holding = true;
      expect(await scraped(registry, 'causeway_forwarder_blocked')).toBe(1);

      // Fixed: the registry learns the type, the next round publishes it and the gauge drops.
      serializer.register('Opened', z.object({ n: z.number() }));
      await until(async () => (await scraped(registry, 'causeway_forwarder_blocked')) === 0);
    } finally {
      await forwarder.stop();
      await broker.close();
    }
  });

  it('shows for how long the rounds have failed in a row in causeway_forwarder_failing_seconds', async () => {
    const store = new InMemoryEventStore();
    // A broker that refuses every publish (closed, as one being shut down).
    const broker = new InMemoryBroker({ serializer: new SerializerRegistry() });
    await broker.close();
    const errors: unknown[] = [];
    const forwarder = new EventForwarder({
      store,
      publisher: broker,
      checkpoints: new InMemoryCheckpointStore(),
      topicOf: (event) => `events.${event.type}`,
      pollIntervalMs: 5,
      onError: (error) => errors.push(error),
    });
    const registry = new Registry();
    let holding = true;
    registerForwarderMetrics(registry, forwarder, () => holding);
    await store.append('t1', [testEnvelope('Moved', { n: 1 }, { aggregateId: 't1' })], {
      expectedVersion: 'no-stream',
    });
    try {
      expect(await scraped(registry, 'causeway_forwarder_failing_seconds')).toBe(0);
      forwarder.start();
      await until(() => errors.length >= 2);
      const since = forwarder.failing!.since.getTime();
      await until(() => Date.now() - since >= 100);
      expect(await scraped(registry, 'causeway_forwarder_failing_seconds')).toBeGreaterThanOrEqual(
        0.1,
      );
      // Another instance took the lease: this one's rounds are not the outbox's.
      holding = false;
      expect(await scraped(registry, 'causeway_forwarder_failing_seconds')).toBe(0);
    } finally {
      await forwarder.stop();
    }
  });
});
