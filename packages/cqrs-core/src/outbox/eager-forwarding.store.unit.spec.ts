import { z } from 'zod';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { type Envelope } from '../messages/envelope';
import { SerializerRegistry } from '../messages/serializer.registry';
import { testEnvelope } from '../testing/envelope.fixture';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { type Publisher } from '../transport/transport.port';
import { InMemoryCheckpointStore } from './checkpoint-store.port';
import { EagerForwardingStore } from './eager-forwarding.store';
import { EventForwarder } from './event.forwarder';
import { InMemoryForwardLedger } from './in-memory.forward-ledger';

/**
 * Eager forwarding over the in-memory store and broker: appends reach the bus without a round,
 * and when an eager publish cannot go out, later events of the stream wait for the rounds
 * instead of overtaking it.
 */
function setup(options: { pollIntervalMs?: number } = {}) {
  const inner = new InMemoryEventStore();
  const broker = new InMemoryBroker({
    serializer: new SerializerRegistry().register('Moved', z.object({ n: z.number() })),
  });
  let failing = false;
  let publishCalls = 0;
  const publisher: Publisher = {
    publish: async (topic: string, messages: readonly Envelope[]) => {
      publishCalls++;
      if (failing) throw new Error('bus down');
      await broker.publish(topic, messages);
    },
    close: async () => undefined,
  };
  const checkpoints = new InMemoryCheckpointStore();
  const forwarder = new EventForwarder({
    store: inner,
    publisher,
    checkpoints,
    topicOf: () => 'events.Moved',
    pollIntervalMs: options.pollIntervalMs ?? 60_000,
    onError: () => undefined,
  });
  const store = new EagerForwardingStore(inner, forwarder);
  const seen: string[] = [];
  const subscribed = broker
    .subscriber()
    .subscribe(['events.Moved'], { group: 'g', consumer: 'c' }, async (d) => {
      seen.push(`${d.envelope.aggregateId}:${(d.envelope.data as { n: number }).n}`);
    });
  const versions = new Map<string, number>();
  const append = async (stream: string, ...ns: number[]) => {
    const expected = versions.get(stream) ?? 0;
    const result = await store.append(
      stream,
      ns.map((n) => testEnvelope('Moved', { n }, { aggregateId: stream })),
      { expectedVersion: expected === 0 ? 'no-stream' : expected },
    );
    versions.set(stream, result.nextExpectedVersion);
  };
  return {
    inner,
    forwarder,
    seen,
    subscribed,
    append,
    checkpoints,
    setFailing: (value: boolean) => (failing = value),
    publishCalls: () => publishCalls,
  };
}

async function until(condition: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('EagerForwardingStore', () => {
  it('publishes each append right after it, with no forwarder round at all', async () => {
    const t = setup();
    await t.subscribed;
    await t.append('a', 1);
    await t.append('a', 2, 3);
    await t.append('b', 1);
    await until(() => t.seen.length === 4 && t.forwarder.eagerCount === 4);
    expect(t.seen.filter((s) => s.startsWith('a'))).toEqual(['a:1', 'a:2', 'a:3']);
    expect(t.seen).toContain('b:1');
    expect(t.forwarder.eagerCount).toBe(4);
    expect(await t.checkpoints.load('forwarder')).toBe(0); // no round ran
  });

  it('leaves a stream to the rounds after a failed publish, so nothing overtakes the lost event', async () => {
    const t = setup();
    await t.subscribed;
    await t.append('a', 1);
    await until(() => t.seen.length === 1);
    t.setFailing(true);
    await t.append('a', 2);
    await until(() => t.publishCalls() === 2);
    t.setFailing(false);
    await t.append('a', 3); // a:2 is not known to be out: a:3 must not go first
    await t.append('b', 1); // another stream is not held back
    await until(() => t.seen.includes('b:1'));
    expect(t.seen).toEqual(['a:1', 'b:1']);
    expect(await t.forwarder.forwardOnce()).toBe(4);
    await until(() => t.seen.length === 4);
    // Published once each: the round skips what this process published eagerly.
    expect(t.seen).toEqual(['a:1', 'b:1', 'a:2', 'a:3']);
    // The checkpoint has passed a:3: the stream is eager again.
    await t.append('a', 4);
    await until(() => t.seen.length === 5);
    expect(t.seen.at(-1)).toBe('a:4');
  });

  it('leaves a stream this process did not append to before to the rounds', async () => {
    const t = setup();
    await t.subscribed;
    await t.inner.append('a', [testEnvelope('Moved', { n: 1 }, { aggregateId: 'a' })], {
      expectedVersion: 'no-stream',
    });
    const other = new EagerForwardingStore(t.inner, t.forwarder);
    await other.append('a', [testEnvelope('Moved', { n: 2 }, { aggregateId: 'a' })], {
      expectedVersion: 1,
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(t.seen).toEqual([]);
    await t.forwarder.forwardOnce();
    await until(() => t.seen.length === 2);
    expect(t.seen).toEqual(['a:1', 'a:2']);
  });

  it('keeps stream order for appends made back to back while a publish is in flight', async () => {
    const t = setup();
    await t.subscribed;
    // Each append returns before its publish finished.
    for (let n = 1; n <= 50; n++) await t.append('a', n);
    await until(() => t.seen.length === 50 && t.forwarder.eagerCount === 50);
    expect(t.seen).toEqual(Array.from({ length: 50 }, (_, i) => `a:${i + 1}`));
  });

  it('does not publish again, in the rounds of the same process, what went out eagerly', async () => {
    const t = setup();
    await t.subscribed;
    t.forwarder.start(); // its first round finds nothing; the next is a minute away
    await new Promise((resolve) => setTimeout(resolve, 20));
    try {
      for (let n = 1; n <= 20; n++) await t.append('a', n);
      const last = (await t.inner.readAll()).at(-1)!.position;
      await until(() => t.forwarder.eagerCount === 20);
      t.forwarder.nudge();
      // Let a round pass the checkpoint over every event, then check nothing came twice.
      const deadline = Date.now() + 3_000;
      while ((await t.checkpoints.load('forwarder')) < last && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 5));
      expect(await t.checkpoints.load('forwarder')).toBe(last);
      expect(t.seen).toEqual(Array.from({ length: 20 }, (_, i) => `a:${i + 1}`));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(t.publishCalls()).toBe(20);
      expect(t.forwarder.count).toBe(20);
    } finally {
      await t.forwarder.stop();
    }
  });
});

describe('eager forwarding of renamed types (formerNames)', () => {
  // Release 2 renamed BadgeWon to BadgeEarned.
  const serializer = () =>
    new SerializerRegistry()
      .register('BadgeEarned', z.object({ badge: z.string() }))
      .formerNames('BadgeEarned', 'BadgeWon');

  /** The forwarder and eager store trainer-service runs: a ledger, rounds only when told. */
  function renamed(types: string[] | undefined) {
    const registry = serializer();
    const store = new InMemoryEventStore({ serializer: registry });
    const published: [string, string][] = [];
    const publisher: Publisher = {
      publish: async (topic, messages) => {
        for (const message of messages) published.push([topic, message.type]);
      },
      close: async () => undefined,
    };
    const forwarder = new EventForwarder({
      store,
      publisher,
      checkpoints: new InMemoryCheckpointStore(),
      topicOf: (event) => `events.${event.type}`,
      types,
      serializer: registry,
      pollIntervalMs: 60_000,
      ledger: new InMemoryForwardLedger({
        unitOf: (position) => position,
        lastOf: (unit) => unit,
        head: async () => (await store.readAllPage({})).position,
      }),
    });
    const eager = new EagerForwardingStore(store, forwarder);
    const settle = async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      for (let i = 0; i < 3; i++) await forwarder.forwardOnce();
    };
    return { published, forwarder, eager, settle };
  }
  const badge = (type: string, name: string) =>
    testEnvelope(type, { badge: name }, { aggregateId: 's' });

  it('publishes an event appended under the former name once, as the store keeps it', async () => {
    const { published, forwarder, eager, settle } = renamed(undefined);
    await forwarder.forwardOnce();
    await eager.append('s', [badge('BadgeWon', 'Boulder')], { expectedVersion: 'no-stream' });
    await settle();
    expect(published).toEqual([['events.BadgeEarned', 'BadgeEarned']]);
  });

  it('matches types given by either name, as the rounds do (nothing is lost behind the ledger)', async () => {
    for (const [types, appended] of [
      [['BadgeWon'], 'BadgeEarned'],
      [['BadgeEarned'], 'BadgeWon'],
    ] as const) {
      const { published, forwarder, eager, settle } = renamed([...types]);
      await forwarder.forwardOnce();
      await eager.append('s', [badge(appended, 'Boulder')], { expectedVersion: 'no-stream' });
      await settle();
      expect(published).toEqual([['events.BadgeEarned', 'BadgeEarned']]);
    }
  });
});
