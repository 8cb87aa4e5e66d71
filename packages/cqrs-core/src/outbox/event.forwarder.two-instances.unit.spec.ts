import { type Envelope } from '../messages/envelope';
import { testEnvelope } from '../testing/envelope.fixture';
import { CountingStore } from '../../test/fixtures/counting.store';
import { type Publisher } from '../transport/transport.port';
import { InMemoryCheckpointStore } from './checkpoint-store.port';
import { EagerForwardingStore } from './eager-forwarding.store';
import { EventForwarder, type EventForwarderOptions } from './event.forwarder';
import { InMemoryForwardLedger } from './in-memory.forward-ledger';

/**
 * Two instances of a deployment (trainer-service with a lease): each eager-forwards its own
 * appends, both record into one ledger and share the checkpoint; only `a` runs the rounds.
 * What the rounds publish is `a.count - a.eagerCount`.
 */
function twoInstances(options: Partial<EventForwarderOptions> = {}) {
  const store = new CountingStore();
  const published: Envelope[] = [];
  const publisher: Publisher = {
    publish: async (_topic, messages) => void published.push(...messages),
    close: async () => undefined,
  };
  const checkpoints = new InMemoryCheckpointStore();
  const ledger = new InMemoryForwardLedger({
    unitOf: (position) => position,
    lastOf: (unit) => unit,
    head: async () => store.last,
  });
  const forwarder = () =>
    new EventForwarder({
      store,
      publisher,
      checkpoints,
      topicOf: (e) => `events.${e.type}`,
      ledger,
      batchSize: 1_000,
      ...options,
    });
  const a = forwarder();
  const b = forwarder();
  const eagerA = new EagerForwardingStore(store, a);
  const eagerB = new EagerForwardingStore(store, b);
  let n = 0;
  /** One move: instance a writes even streams, b odd ones (each its own streams, as with sticky routing). */
  const move = async (stream: number) => {
    const into = stream % 2 === 0 ? eagerA : eagerB;
    await into.append(`s${stream}`, [testEnvelope('Moved', { n: ++n })], {
      expectedVersion: 'any',
    });
  };
  /** An append whose eager publish never happened (not allowed, failed, its writer died). */
  const unrecorded = () =>
    store.append('lost', [testEnvelope('Moved', { n: ++n })], { expectedVersion: 'any' });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 10));
  const roundsPublished = () => a.count - a.eagerCount;
  return { store, published, checkpoints, a, b, move, unrecorded, settle, roundsPublished };
}

describe('EventForwarder rounds with two eager-forwarding instances sharing a ledger', () => {
  it('a read does not republish what the other instance recorded in the ledger', async () => {
    // Every round reads (as the 30-s read, the first round or a nudge do).
    const { store, a, move, settle, roundsPublished } = twoInstances({ ledgerReadIntervalMs: 0 });
    await a.forwardOnce();
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 20; i++) await move(i);
      await settle();
      await a.forwardOnce();
    }
    expect(store.last).toBe(200);
    expect(roundsPublished()).toBe(0);
  });

  it('an append never recorded costs one read that publishes only it, not the other instance’s events', async () => {
    const { store, published, checkpoints, a, move, unrecorded, settle, roundsPublished } =
      twoInstances();
    await a.forwardOnce(); // the first round reads
    for (let i = 0; i < 10; i++) await move(i);
    await unrecorded(); // a hole in the ledger
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 50; i++) await move(i);
      await settle();
      await a.forwardOnce();
    }
    expect(roundsPublished()).toBe(1); // the unrecorded event, once
    expect(store.reads).toBeLessThanOrEqual(2);
    expect(await checkpoints.load('forwarder')).toBe(store.last);
    // Nothing lost: every event is out.
    expect(new Set(published.map((e) => e.messageId)).size).toBe(store.last);
  });

  it('catches up a long way behind a hole without republishing, reading little', async () => {
    // A hole, then far more than a batch recorded after it (the checkpoint held back while
    // the rounds of the lease holder could not run, e.g. a slow read or a lease takeover).
    const { store, published, checkpoints, a, move, unrecorded, settle, roundsPublished } =
      twoInstances({ batchSize: 100 });
    await a.forwardOnce();
    await unrecorded();
    for (let i = 0; i < 1_000; i++) await move(i);
    await settle();
    for (let round = 0; round < 5; round++) await a.forwardOnce();
    expect(roundsPublished()).toBe(1);
    expect(store.reads).toBeLessThanOrEqual(3);
    expect(await checkpoints.load('forwarder')).toBe(store.last);
    expect(new Set(published.map((e) => e.messageId)).size).toBe(store.last);
  });

  it('still publishes every event appended without eager forwarding, in stream order', async () => {
    const { store, published, checkpoints, a, move, settle } = twoInstances({ batchSize: 7 });
    await a.forwardOnce();
    for (let i = 0; i < 30; i++) {
      if (i % 3 === 0)
        await store.append('plain', [testEnvelope('Moved', { i })], { expectedVersion: 'any' });
      else await move(i);
    }
    await settle();
    for (let round = 0; round < 20; round++) await a.forwardOnce();
    expect(await checkpoints.load('forwarder')).toBe(store.last);
    const plain = published.filter((e) => (e.data as { i?: number }).i !== undefined);
    expect(plain.map((e) => (e.data as { i: number }).i)).toEqual([
      0, 3, 6, 9, 12, 15, 18, 21, 24, 27,
    ]);
    expect(new Set(published.map((e) => e.messageId)).size).toBe(store.last);
  });
});
