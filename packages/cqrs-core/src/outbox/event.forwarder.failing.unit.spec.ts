import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { testEnvelope } from '../testing/envelope.fixture';
import { type Envelope } from '../messages/envelope';
import { type Publisher } from '../transport/transport.port';
import { InMemoryCheckpointStore } from './checkpoint-store.port';
import { EventForwarder } from './event.forwarder';
import { InMemoryForwardLedger } from './in-memory.forward-ledger';
import { forwarderProbe } from './forwarder.probe';
import { until } from './forwarder.fixture';

/**
 * Rounds that fail one after the other, not at an event (a broker that refuses every publish, a
 * read the store times out while it answers pings): nothing reaches the bus from them.
 */
describe('EventForwarder whose rounds keep failing', () => {
  /**
   * s1's one event and a forwarder of it to a broker that refuses every publish while `broker.up`
   * is false (as a Redis that is being failed over does).
   */
  async function setUp(ledger?: InMemoryForwardLedger) {
    const store = new InMemoryEventStore();
    await store.append('s1', [testEnvelope('Moved', { n: 1 }, { aggregateId: 's1' })], {
      expectedVersion: 'no-stream',
    });
    const broker = { up: false, published: [] as Envelope[] };
    const publisher: Publisher = {
      publish: async (_topic, messages) => {
        if (!broker.up) throw new Error('READONLY You cannot write against a read only replica.');
        broker.published.push(...messages);
      },
      close: async () => undefined,
    };
    const errors: unknown[] = [];
    const forwarder = new EventForwarder({
      store,
      publisher,
      checkpoints: new InMemoryCheckpointStore(),
      topicOf: (event) => `events.${event.type}`,
      pollIntervalMs: 5,
      ...(ledger && { ledger }),
      onError: (error) => errors.push(error),
    });
    return { broker, errors, forwarder };
  }

  it('says so in `failing` and, past failingForMs, in its health probe; a round that succeeds clears both', async () => {
    const { broker, errors, forwarder } = await setUp();
    const probe = forwarderProbe(forwarder, 'outbox', { failingForMs: 150 });
    const lenient = forwarderProbe(forwarder);
    const before = new Date();
    forwarder.start();
    try {
      await until(() => errors.length >= 2);
      const failing = forwarder.failing!;
      expect(failing).toBeDefined();
      expect(failing.since.getTime()).toBeGreaterThanOrEqual(before.getTime());
      expect(failing.rounds).toBeGreaterThanOrEqual(2);
      expect(failing.error).toEqual(
        expect.objectContaining({ message: expect.stringMatching(/READONLY/) }),
      );
      // Past failingForMs (the first round's failure is the start of the spell): the probe fails.
      await until(() => Date.now() - failing.since.getTime() >= 150);
      await expect(probe.check()).rejects.toThrow(
        new RegExp(
          `^the outbox's rounds have failed since ${failing.since.toISOString().replace(/\./g, '\\.')} \\(\\d+ in a row\\), nothing is forwarded: Error: READONLY`,
        ),
      );
      // Within the default minute, a spell is only onError's.
      await expect(lenient.check()).resolves.toBeUndefined();

      broker.up = true;
      await until(() => broker.published.length === 1);
      await until(() => forwarder.failing === undefined);
      await expect(probe.check()).resolves.toBeUndefined();
    } finally {
      await forwarder.stop();
    }
  });

  it('with a ledger, keeps the spell through the rounds that skip the read in between', async () => {
    // Each position its own unit; the head unknown: the rounds between two reads ask it only.
    const { errors, forwarder } = await setUp(
      new InMemoryForwardLedger({
        unitOf: (position) => position,
        lastOf: (unit) => unit,
        head: async () => Infinity,
      }),
    );
    const probe = forwarderProbe(forwarder, 'outbox', { failingForMs: 150 });
    forwarder.start();
    try {
      await until(() => errors.length >= 1);
      const since = forwarder.failing!.since;
      await until(() => errors.length >= 3);
      // The rounds that only asked the ledger (they read nothing, so published nothing) did
      // not end the spell: else it started again at every read, and never lasted 150 ms.
      expect(forwarder.failing!.since).toEqual(since);
      expect(forwarder.failing!.rounds).toBeGreaterThanOrEqual(3);
      await until(() => Date.now() - since.getTime() >= 150);
      await until(() => errors.length >= 5);
      await expect(probe.check()).rejects.toThrow(/nothing is forwarded: Error: READONLY/);
    } finally {
      await forwarder.stop();
    }
  });

  it('with a ledger, reads again at the next round after a failed read instead of waiting for ledgerReadIntervalMs', async () => {
    // A review (session 42): with the ledger caught up, the rounds after a failed read only
    // asked it, and succeeded without ending the spell; the next read, ledgerReadIntervalMs
    // later, did. Past failingForMs the probe failed an outbox that forwarded fine.
    const store = new InMemoryEventStore();
    await store.append('s1', [testEnvelope('Moved', { n: 1 }, { aggregateId: 's1' })], {
      expectedVersion: 'no-stream',
    });
    let storeDown = false;
    // The real store, whose reads time out while `storeDown` (FerretDB answering pings only).
    const flaky = new Proxy(store, {
      get(target, name, receiver) {
        if (name === 'readAllPage' && storeDown)
          return async () => {
            throw new Error('operation exceeded time limit');
          };
        const value: unknown = Reflect.get(target, name, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const published: Envelope[] = [];
    const forwarder = new EventForwarder({
      store: flaky,
      publisher: {
        publish: async (_topic, messages) => void published.push(...messages),
        close: async () => undefined,
      },
      checkpoints: new InMemoryCheckpointStore(),
      topicOf: (event) => `events.${event.type}`,
      pollIntervalMs: 5,
      ledgerReadIntervalMs: 60_000,
      ledger: new InMemoryForwardLedger({
        unitOf: (position) => position,
        lastOf: (unit) => unit,
        head: async () => (await store.readAllPage({ fromPosition: 0, limit: 1_000 })).position,
      }),
      onError: () => undefined,
    });
    forwarder.start();
    try {
      await until(() => published.length === 1);
      storeDown = true;
      forwarder.nudge(); // a read now, which fails
      await until(() => forwarder.failing !== undefined);
      storeDown = false;
      // The next round reads, and succeeds: no spell left, well before a minute.
      await until(() => forwarder.failing === undefined, 2_000);
      expect(published).toHaveLength(1);
    } finally {
      await forwarder.stop();
    }
  });

  it('refuses a failingForMs that is no number of milliseconds, naming it', () => {
    const forwarder = { blocked: undefined, failing: undefined };
    expect(() => forwarderProbe(forwarder, 'outbox', { failingForMs: Number.NaN })).toThrow(
      'forwarderProbe: options.failingForMs must be a number of milliseconds >= 0, got NaN',
    );
  });

  // A review (session 42): a string (from the environment) passed the check, '5' >= 0 being
  // true, and an empty one was then compared as 0.
  it.each(['5', ''])('refuses a failingForMs of %p, a string, naming it', (given) => {
    const forwarder = { blocked: undefined, failing: undefined };
    const options = { failingForMs: given as unknown as number };
    expect(() => forwarderProbe(forwarder, 'outbox', options)).toThrow(
      new RangeError(
        `forwarderProbe: options.failingForMs must be a number of milliseconds >= 0, got ${JSON.stringify(given)}`,
      ),
    );
  });
});
