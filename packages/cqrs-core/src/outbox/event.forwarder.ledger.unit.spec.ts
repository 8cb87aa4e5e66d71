import { type EventStore } from '../event-store/event-store.port';
import { type Envelope } from '../messages/envelope';
import { testEnvelope } from '../testing/envelope.fixture';
import { CountingStore } from '../../test/fixtures/counting.store';
import { type Publisher } from '../transport/transport.port';
import { InMemoryCheckpointStore } from './checkpoint-store.port';
import { EagerForwardingStore } from './eager-forwarding.store';
import { EventForwarder } from './event.forwarder';
import { type ForwardLedger } from './forward-ledger.port';
import { InMemoryForwardLedger } from './in-memory.forward-ledger';

/** The forwarder over a counting store, with an in-memory ledger unless given another one. */
function setUp(given?: ForwardLedger) {
  const store = new CountingStore();
  const published: Envelope[] = [];
  const publisher: Publisher = {
    publish: async (_topic, messages) => void published.push(...messages),
    close: async () => undefined,
  };
  const checkpoints = new InMemoryCheckpointStore();
  // Each position its own unit, the head known exactly: the in-memory store's positions.
  const ledger =
    given ??
    new InMemoryForwardLedger({
      unitOf: (position) => position,
      lastOf: (unit) => unit,
      head: async () => store.last,
    });
  const forwarder = new EventForwarder({
    store,
    publisher,
    checkpoints,
    topicOf: (e) => `events.${e.type}`,
    ledger,
  });
  const eager = new EagerForwardingStore(store, forwarder);
  let n = 0;
  const append = (into: EventStore) =>
    into.append('a', [testEnvelope('Moved', { n: ++n }, { aggregateId: 'a' })], {
      expectedVersion: 'any',
    });
  /** Lets eager publications and their (not awaited) ledger records finish. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
  return { store, published, checkpoints, forwarder, eager, append, settle };
}

describe('EventForwarder with a ForwardLedger', () => {
  it('moves the checkpoint past what eager forwarding recorded, without reading the store', async () => {
    const { store, published, checkpoints, forwarder, eager, append, settle } = setUp();
    await forwarder.forwardOnce(); // the first round always reads
    expect(store.reads).toBe(1);
    for (let i = 0; i < 5; i++) await append(eager);
    await settle();
    expect(published).toHaveLength(5);

    await forwarder.forwardOnce();
    expect(store.reads).toBe(1);
    expect(await checkpoints.load('forwarder')).toBe(store.last);
    expect(published).toHaveLength(5); // nothing published twice
  });

  it('reads the store when an event is still unrecorded a round later, and publishes it', async () => {
    const { store, published, checkpoints, forwarder, eager, append, settle } = setUp();
    await forwarder.forwardOnce();
    await append(eager);
    await append(store); // not forwarded eagerly (as if its process died right after the append)
    await settle();

    await forwarder.forwardOnce(); // may be a publish in flight: wait a round
    expect(store.reads).toBe(1);
    expect(published).toHaveLength(1);
    await forwarder.forwardOnce(); // still missing: read
    expect(store.reads).toBe(2);
    expect(published.map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await checkpoints.load('forwarder')).toBe(store.last);
  });

  it('reads the store when the ledger cannot answer', async () => {
    // A ledger whose server is down.
    const { store, published, checkpoints, forwarder, append } = setUp({
      record: () => Promise.reject(new Error('ledger unavailable')),
      advance: () => Promise.reject(new Error('ledger unavailable')),
    });
    await forwarder.forwardOnce();
    await append(store);
    await forwarder.forwardOnce();
    expect(store.reads).toBe(2);
    expect(published).toHaveLength(1);
    expect(await checkpoints.load('forwarder')).toBe(store.last);
  });

  it('reads at once when nudged (an eager publish failed)', async () => {
    const { store, published, forwarder, append } = setUp();
    await forwarder.forwardOnce();
    await append(store);
    forwarder.nudge();
    await forwarder.forwardOnce();
    expect(store.reads).toBe(2);
    expect(published).toHaveLength(1);
  });

  it('reads the store in its first round when started again (a lease taken back)', async () => {
    const hint = 0; // the slot hint lags: the writer died before raising it
    const { store, published, forwarder, append } = setUp(
      new InMemoryForwardLedger({
        unitOf: (position) => position,
        lastOf: (unit) => unit,
        head: async () => hint,
      }),
    );
    forwarder.start(); // this instance holds the lease…
    await new Promise((resolve) => setTimeout(resolve, 50));
    await forwarder.stop(); // …and loses it
    const reads = store.reads;
    // The other instance appended and died before publishing it or raising the hint.
    await append(store);
    forwarder.start(); // the lease taken back: the same forwarder starts again
    const deadline = Date.now() + 2_000;
    while (published.length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await forwarder.stop();
    expect(store.reads).toBeGreaterThan(reads);
    // Not after ledgerReadIntervalMs (30 s) since the read made before the lease was lost.
    expect(published).toHaveLength(1);
  });
});
