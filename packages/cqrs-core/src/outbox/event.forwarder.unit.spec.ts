import { z } from 'zod';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { SerializerRegistry } from '../messages/serializer.registry';
import { testEnvelope } from '../testing/envelope.fixture';
import { CountingStore } from '../../test/fixtures/counting.store';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { type Envelope } from '../messages/envelope';
import { type Publisher } from '../transport/transport.port';
import { InMemoryCheckpointStore } from './checkpoint-store.port';
import { EventForwarder, FORWARDER_WARNING } from './event.forwarder';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { UnpublishableEventError } from './unpublishable-event.error';
import { forwarderProbe } from './forwarder.probe';
import { forwarderToBroker, until } from './forwarder.fixture';

const serializer = () => new SerializerRegistry().register('Moved', z.object({ n: z.number() }));

describe('EventForwarder', () => {
  it('forwards at once when nudged after an append, not at its next poll', async () => {
    const store = new CountingStore();
    const published: Envelope[] = [];
    const publisher: Publisher = {
      publish: async (_topic, messages) => void published.push(...messages),
      close: async () => undefined,
    };
    const forwarder = new EventForwarder({
      store,
      publisher,
      checkpoints: new InMemoryCheckpointStore(),
      topicOf: (e) => `events.${e.type}`,
      pollIntervalMs: 60_000,
    });
    forwarder.start();
    try {
      // The first round finds nothing; the loop then sleeps for a minute.
      const started = Date.now() + 5_000;
      while (store.reads === 0 && Date.now() < started)
        await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, 20));
      await store.append('a', [testEnvelope('Moved', { n: 1 }, { aggregateId: 'a' })], {
        expectedVersion: 'no-stream',
      });
      forwarder.nudge();
      const deadline = Date.now() + 2_000;
      while (published.length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 5));
      expect(published.map((e) => e.data)).toEqual([{ n: 1 }]);
    } finally {
      await forwarder.stop();
    }
  });

  it('waits for its poll between rounds under a steady load, and goes on at once when behind', async () => {
    const store = new CountingStore();
    let published = 0;
    const publisher: Publisher = {
      publish: async (_topic, messages) => void (published += messages.length),
      close: async () => undefined,
    };
    // A backlog of 5 full batches, then a new event every 5 ms for 600 ms.
    for (let n = 1; n <= 50; n++)
      await store.append('old', [testEnvelope('Moved', { n }, { aggregateId: 'old' })], {
        expectedVersion: 'any',
      });
    const forwarder = new EventForwarder({
      store,
      publisher,
      checkpoints: new InMemoryCheckpointStore(),
      topicOf: (e) => `events.${e.type}`,
      batchSize: 10,
      pollIntervalMs: 100,
    });
    forwarder.start();
    let appended = 50;
    const started = Date.now();
    try {
      while (Date.now() - started < 600) {
        await store.append(
          'new',
          [testEnvelope('Moved', { n: appended }, { aggregateId: 'new' })],
          {
            expectedVersion: 'any',
          },
        );
        appended++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const deadline = Date.now() + 2_000;
      while (published < appended && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      await forwarder.stop();
    }
    expect(published).toBe(appended);
    // The backlog took 5-6 rounds back to back; then about one round per 100 ms poll, not one
    // per append (well over 100 here).
    expect(store.reads).toBeLessThan(6 + 12 + 4);
  });

  it('publishes appended events in stream order per aggregate and resumes from its checkpoint', async () => {
    const store = new InMemoryEventStore();
    const broker = new InMemoryBroker({ serializer: serializer() });
    const checkpoints = new InMemoryCheckpointStore();
    const received: string[] = [];
    await broker
      .subscriber()
      .subscribe(['events.Moved'], { group: 'g', consumer: 'c' }, async (d) => {
        received.push(`${d.envelope.aggregateId}:${(d.envelope.data as { n: number }).n}`);
      });
    for (let n = 1; n <= 3; n++) {
      await store.append('a', [testEnvelope('Moved', { n }, { aggregateId: 'a' })], {
        expectedVersion: n - 1,
      });
      await store.append('b', [testEnvelope('Moved', { n }, { aggregateId: 'b' })], {
        expectedVersion: n - 1,
      });
    }
    const forwarder = new EventForwarder({
      store,
      publisher: broker,
      checkpoints,
      topicOf: (e) => `events.${e.type}`,
      batchSize: 4,
    });
    expect(await forwarder.forwardOnce()).toBe(4);
    expect(await forwarder.forwardOnce()).toBe(2);
    expect(await forwarder.forwardOnce()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received.filter((r) => r.startsWith('a'))).toEqual(['a:1', 'a:2', 'a:3']);
    expect(received.filter((r) => r.startsWith('b'))).toEqual(['b:1', 'b:2', 'b:3']);
    expect(await checkpoints.load('forwarder')).toBe((await store.readAll()).at(-1)!.position);
  });

  it('republishes from the last checkpoint when publishing failed, losing nothing', async () => {
    const store = new InMemoryEventStore();
    const broker = new InMemoryBroker({ serializer: serializer() });
    let failNext = true;
    const flaky: Publisher = {
      publish: async (topic: string, messages: readonly Envelope[]) => {
        if (failNext) {
          failNext = false;
          throw new Error('broker down');
        }
        await broker.publish(topic, messages);
      },
      close: async () => undefined,
    };
    const seen: number[] = [];
    await broker
      .subscriber()
      .subscribe(['events.Moved'], { group: 'g', consumer: 'c' }, async (d) => {
        seen.push((d.envelope.data as { n: number }).n);
      });
    const errors: unknown[] = [];
    const forwarder = new EventForwarder({
      store,
      publisher: flaky,
      checkpoints: new InMemoryCheckpointStore(),
      topicOf: () => 'events.Moved',
      pollIntervalMs: 5,
      onError: (e) => errors.push(e),
    });
    forwarder.start();
    for (let n = 1; n <= 5; n++)
      await store.append('s', [testEnvelope('Moved', { n }, { aggregateId: 's' })], {
        expectedVersion: 'any',
      });
    const deadline = Date.now() + 3_000;
    while (seen.length < 5 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    await forwarder.stop();
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(errors).toHaveLength(1);
  });

  it('without onError, warns of a broker that refuses its publishes, throttled', async () => {
    const store = new InMemoryEventStore();
    const refusing: Publisher = {
      publish: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      },
      close: async () => undefined,
    };
    // Observed, not replaced: jest's sandboxed `process` does not pass warnings to listeners.
    const warn = jest.spyOn(process, 'emitWarning');
    const warnings = () =>
      warn.mock.calls.filter(
        ([, options]) => (options as { type?: string } | undefined)?.type === FORWARDER_WARNING,
      );
    const forwarder = new EventForwarder({
      name: 'trainer-outbox',
      store,
      publisher: refusing,
      checkpoints: new InMemoryCheckpointStore(),
      topicOf: () => 'events.Moved',
      pollIntervalMs: 5,
    });
    let seen: unknown[][] = [];
    try {
      await store.append('s', [testEnvelope('Moved', { n: 1 }, { aggregateId: 's' })], {
        expectedVersion: 'any',
      });
      forwarder.start();
      const deadline = Date.now() + 3_000;
      while (warnings().length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
      // Many more rounds fail meanwhile; they are not each a warning.
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen = warnings();
    } finally {
      await forwarder.stop();
      warn.mockRestore();
    }
    expect(seen).toHaveLength(1);
    expect(String(seen[0]![0])).toContain(
      'event forwarder trainer-outbox failed: Error: connect ECONNREFUSED 127.0.0.1:6379',
    );
  });

  it('with types, moves its checkpoint past the events of other types instead of reading them again', async () => {
    const store = new CountingStore();
    const published: Envelope[] = [];
    const publisher: Publisher = {
      publish: async (_topic, messages) => void published.push(...messages),
      close: async () => undefined,
    };
    const checkpoints = new InMemoryCheckpointStore();
    await store.append('a', [testEnvelope('Moved', { n: 1 }, { aggregateId: 'a' })], {
      expectedVersion: 'any',
    });
    for (let n = 1; n <= 30; n++)
      await store.append('b', [testEnvelope('Other', { n }, { aggregateId: 'b' })], {
        expectedVersion: 'any',
      });
    const forwarder = new EventForwarder({
      store,
      publisher,
      checkpoints,
      topicOf: (e) => `events.${e.type}`,
      types: ['Moved'],
    });
    expect(await forwarder.forwardOnce()).toBe(1);
    await forwarder.forwardOnce();
    const head = (await store.readAll()).at(-1)!.position;
    expect(published.map((e) => e.data)).toEqual([{ n: 1 }]);
    // Past the 30 events it filters out: the next round reads nothing before the head.
    expect(await checkpoints.load('forwarder')).toBe(head);
  });

  describe('an event it can never publish', () => {
    /** s1: Moved 1, Opened (not registered with the publisher's serializer), Moved 3; s2: Moved 4. */
    async function setUp(deadLetters?: InMemoryDeadLetterQueue) {
      const store = new InMemoryEventStore();
      const registry = serializer();
      const { forwarder, seen, errors, checkpoints } = await forwarderToBroker({
        store,
        serializer: registry,
        deadLetters,
      });
      await store.append(
        's1',
        [
          testEnvelope('Moved', { n: 1 }, { aggregateId: 's1' }),
          testEnvelope('Opened', { n: 2 }, { aggregateId: 's1' }),
          testEnvelope('Moved', { n: 3 }, { aggregateId: 's1' }),
        ],
        { expectedVersion: 'no-stream' },
      );
      await store.append('s2', [testEnvelope('Moved', { n: 4 }, { aggregateId: 's2' })], {
        expectedVersion: 'no-stream',
      });
      return { forwarder, seen, errors, registry, checkpoints, store };
    }

    it('is dead-lettered with the reason, and the events after it flow', async () => {
      const deadLetters = new InMemoryDeadLetterQueue();
      const { forwarder, seen, errors } = await setUp(deadLetters);
      forwarder.start();
      await until(() => seen.length === 3);
      await forwarder.stop();
      // Streams s1 and s2 are other keys: only s1's order (1 before 3) is kept.
      expect([...seen].sort()).toEqual([1, 3, 4]);
      expect(seen.indexOf(1)).toBeLessThan(seen.indexOf(3));
      expect(forwarder.count).toBe(3);
      const [letter, ...others] = await deadLetters.list();
      expect(others).toEqual([]);
      expect(letter).toMatchObject({
        envelope: { type: 'Opened', aggregateId: 's1', version: 2, data: { n: 2 } },
        originalTopic: 'events.Opened',
        position: 'store:2',
        handler: '(forwarder)',
        errorName: 'UnknownMessageTypeError',
        attempts: 1,
      });
      expect(letter!.envelope).not.toHaveProperty('streamId');
      expect(letter!.reason).toMatch(
        /^event Opened \S+ \(stream s1, version 2, position 2\) cannot be published to events\.Opened: Unknown message type "Opened"/,
      );
      expect(errors).toEqual([expect.any(UnpublishableEventError)]);
    });

    it('without deadLetters, stops at it and names it every round, without republishing the others', async () => {
      const { forwarder, seen, errors, registry, checkpoints } = await setUp();
      forwarder.start();
      await until(() => errors.length >= 3);
      // The first round published the Moved batch; the checkpoint stopped just before the
      // event, and the rounds since tried it alone: nothing was published again meanwhile.
      expect([...seen].sort()).toEqual([1, 3, 4]);
      expect(await checkpoints.load(forwarder.name)).toBe(1);
      const error = errors[0] as UnpublishableEventError;
      expect(error).toBeInstanceOf(UnpublishableEventError);
      expect(error).toMatchObject({ streamId: 's1', version: 2, position: 2, type: 'Opened' });
      expect(error.message).toContain('give the forwarder deadLetters');
      // Once the registry knows the type, the forwarder goes on from there.
      registry.register('Opened', z.object({ n: z.number() }));
      await until(() => seen.length === 5);
      expect([...seen].sort()).toEqual([1, 3, 3, 4, 4]);
      await until(() => forwarder.count >= 3);
      await forwarder.stop();
      expect(await checkpoints.load(forwarder.name)).toBe(4);
    });

    it('says it is blocked, in `blocked` and its health probe, until a round gets past the event', async () => {
      const { forwarder, seen, errors, store, checkpoints } = await setUp();
      const probe = forwarderProbe(forwarder);
      expect(forwarder.blocked).toBeUndefined();
      await expect(probe.check()).resolves.toBeUndefined();
      const before = new Date();
      forwarder.start();
      await until(() => errors.length >= 2);
      const block = forwarder.blocked!;
      expect(block.error).toBeInstanceOf(UnpublishableEventError);
      expect(block.error).toMatchObject({
        streamId: 's1',
        version: 2,
        position: 2,
        type: 'Opened',
      });
      // The time it first stopped there, not that of the latest round.
      expect(block.since.getTime()).toBeGreaterThanOrEqual(before.getTime());
      await until(() => errors.length >= 3);
      expect(forwarder.blocked!.since).toEqual(block.since);
      expect(probe).toMatchObject({ name: 'outbox', critical: false });
      await expect(probe.check()).rejects.toThrow(
        `the outbox is blocked since ${block.since.toISOString()}: event Opened`,
      );
      await expect(probe.check()).rejects.toThrow(/stream s1, version 2, position 2/);

      // The operator removes the event instead of fixing the registry: the next round reads past
      // it, and the forwarder is no longer blocked (before, it stayed reported for ever).
      await store.truncateStream('s1', 3);
      await until(() => forwarder.blocked === undefined);
      await expect(probe.check()).resolves.toBeUndefined();
      await until(() => seen.length === 5);
      await forwarder.stop();
      expect(await checkpoints.load(forwarder.name)).toBe(4);
      expect([...seen].sort()).toEqual([1, 3, 3, 4, 4]);
    });

    it('is not reported as blocked once stopped', async () => {
      const { forwarder, errors } = await setUp();
      forwarder.start();
      await until(() => errors.length >= 1);
      expect(forwarder.blocked).toBeDefined();
      await forwarder.stop();
      expect(forwarder.blocked).toBeUndefined();
      await expect(forwarderProbe(forwarder, 'forwarder').check()).resolves.toBeUndefined();
    });
  });
});
