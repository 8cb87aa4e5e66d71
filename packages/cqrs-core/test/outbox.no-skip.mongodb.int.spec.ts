import { testNamespace } from '@causeway/testkit';
import { type Envelope } from '../src';
import { InMemoryCheckpointStore } from '../src/outbox/checkpoint-store.port';
import { EventForwarder } from '../src/outbox/event.forwarder';
import { type StoredEvent } from '../src/event-store/event-store.port';
import { mongoConnection, MongoEventStore } from '../src/mongodb';
import { testEnvelope } from '../src/testing';
import { type Publisher } from '../src/transport/transport.port';

// The outbox's guarantee end to end on FerretDB: many writers in several store instances (as
// in several processes: they race for slots instead of being group-committed together) append
// while a forwarder forwards and a catch-up subscription tails the log. Once both have passed
// the highest position appended, every event must have been handed over exactly once after
// deduplication by messageId, each stream's in version order. A skip (an event made visible
// behind a reader's checkpoint, docs/adr/003) would leave one out for ever; a slow machine only
// makes the wait longer, which is why the test waits for the position, not for a count.
const WRITERS = Number(process.env.OUTBOX_PROBE_WRITERS ?? 48);
const APPENDS = Number(process.env.OUTBOX_PROBE_APPENDS ?? 25);
const INSTANCES = Number(process.env.OUTBOX_PROBE_INSTANCES ?? 2);
/** Writers stop here, and the readers must have caught up by twice that: below jest's timeout. */
const WRITE_MS = Number(process.env.OUTBOX_PROBE_WRITE_MS ?? 60_000);

describe('EventForwarder over MongoEventStore with concurrent writers', () => {
  const ns = testNamespace('outboxnoskip');
  const connections = Array.from({ length: INSTANCES }, (_, i) =>
    mongoConnection({ uri: ns.mongoUri(), name: `outbox-no-skip-${i}` }),
  );
  const stores: MongoEventStore[] = [];

  beforeAll(async () => {
    for (const connection of connections) {
      await connection.open();
      const store = new MongoEventStore({ connection: connection.client });
      await store.init();
      stores.push(store);
    }
  });
  afterAll(async () => {
    await connections[0]!.client.db!.dropDatabase();
    for (const connection of connections) await connection.close();
  });

  it(
    `forwards all ${WRITERS * APPENDS} events of ${WRITERS} writers once each, in stream order`,
    async () => {
      const published: Envelope[] = [];
      const publisher: Publisher = {
        publish: async (_topic, messages) => void published.push(...messages),
        close: async () => undefined,
      };
      const checkpoints = new InMemoryCheckpointStore();
      const errors: unknown[] = [];
      const forwarder = new EventForwarder({
        store: stores[0]!,
        publisher,
        checkpoints,
        topicOf: (e) => `events.${e.type}`,
        pollIntervalMs: 20,
        onError: (error) => errors.push(error),
      });
      const tailed: StoredEvent[] = [];
      const subscription = stores[0]!.subscribe({
        fromPosition: 0,
        pollIntervalMs: 20,
        handler: (event) => void tailed.push(event),
        onError: (error) => errors.push(error),
      });
      forwarder.start();
      let head = 0;
      let written = 0;
      const writeDeadline = Date.now() + WRITE_MS;
      try {
        await Promise.all(
          Array.from({ length: WRITERS }, async (_, w) => {
            const store = stores[w % stores.length]!;
            const streamId = `${ns.id}-w${w}`;
            for (let n = 0; n < APPENDS && Date.now() < writeDeadline; n++) {
              const { positions } = await store.append(
                streamId,
                [testEnvelope('Probed', { w, n }, { aggregateId: streamId })],
                { expectedVersion: n === 0 ? 'no-stream' : n },
              );
              head = Math.max(head, ...positions);
              written++;
            }
          }),
        );
        // Both readers must pass the highest position appended; a slow machine only makes it later.
        const deadline = Date.now() + WRITE_MS;
        while (
          ((await checkpoints.load(forwarder.name)) < head ||
            (tailed[tailed.length - 1]?.position ?? 0) < head) &&
          Date.now() < deadline
        )
          await new Promise((resolve) => setTimeout(resolve, 50));
      } finally {
        // Stopped before afterAll drops the database: FerretDB 1.24 has crashed (SIGBUS in
        // SQLite's WAL index) when a database was dropped under queries in flight.
        await forwarder.stop();
        await subscription.stop();
      }
      expect(written).toBe(WRITERS * APPENDS);
      expect(errors).toEqual([]);
      expect(await checkpoints.load(forwarder.name)).toBeGreaterThanOrEqual(head);

      const expected = WRITERS * APPENDS;
      const tailedIds = new Set(tailed.map((e) => e.messageId));
      // Counts, not the arrays: a failure says what is missing without 1200 events of output.
      expect(tailed.length).toBe(expected);
      expect(tailedIds.size).toBe(expected);
      const firsts = new Map<string, Envelope>();
      for (const envelope of published)
        if (!firsts.has(envelope.messageId)) firsts.set(envelope.messageId, envelope);
      const missing = [...tailedIds].filter((id) => !firsts.has(id));
      expect(missing).toEqual([]);
      expect(firsts.size).toBe(expected);
      const byStream = new Map<string, number[]>();
      for (const envelope of firsts.values()) {
        const versions = byStream.get(envelope.aggregateId) ?? [];
        versions.push(envelope.version);
        byStream.set(envelope.aggregateId, versions);
      }
      expect(byStream.size).toBe(WRITERS);
      const inOrder = Array.from({ length: APPENDS }, (_, i) => i + 1);
      for (const versions of byStream.values()) expect(versions).toEqual(inOrder);
    },
    3 * WRITE_MS + 30_000,
  );
});
