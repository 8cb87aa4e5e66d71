import { type EventStore, type StoredEvent } from '../event-store/event-store.port';
import { type EventStoreConformanceContext } from './event-store.conformance';
import {
  event,
  expectStrictlyIncreasing,
  range,
  uniqueName,
} from './event-store.conformance.fixtures';

/** Once the writers are done, how long the reader may find nothing new before it gives up. */
const READER_IDLE_TIMEOUT_MS = 5_000;
const READ_LIMIT = 500;
const WRITERS_PER_CONNECTION = 2;

export function noSkipScenario(context: EventStoreConformanceContext): void {
  const { writers, appendsPerWriter } = context.features.noSkip ?? {
    writers: 8,
    appendsPerWriter: 1000,
  };
  const total = writers * appendsPerWriter;
  // Two writers share each connection, so that a store's own concurrent appends (which it may
  // queue or group) race the appends of other connections.
  const connections = Math.ceil(writers / WRITERS_PER_CONNECTION);

  it(`never lets a tailing reader skip an event: ${writers} concurrent writers on ${connections} connections × ${appendsPerWriter} appends`, async () => {
    const harness = context.harness();
    const type = uniqueName('NoSkip');
    const stores: EventStore[] = await Promise.all(
      range(1, connections).map(() => harness.connect()),
    );
    const reader = await harness.connect();
    const marker = await harness.store.append(uniqueName('no-skip-start'), [event(type, 'start')], {
      expectedVersion: 'no-stream',
    });
    const start = marker.positions[0] ?? 0;

    // The reader resumes from the last position it saw, as a projection would; it must end up
    // with every event exactly once even though commits of different writers race.
    const seen: StoredEvent[] = [];
    let writing = true;
    const tail = (async () => {
      let from = start;
      let idleSince = Date.now();
      while (seen.length < total) {
        const batch = await reader.readAll({
          fromPosition: from,
          types: [type],
          limit: READ_LIMIT,
        });
        for (const e of batch) {
          seen.push(e);
          from = e.position;
        }
        if (batch.length > 0) idleSince = Date.now();
        else if (!writing && Date.now() - idleSince > READER_IDLE_TIMEOUT_MS) break;
        // Caught up: poll again soon, as a projection would (and leave the server to the writers).
        if (batch.length < READ_LIMIT) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    const writes = await Promise.allSettled(
      range(0, writers - 1).map(async (w) => {
        const store = stores[w % connections]!;
        const streamId = `${type}/writer-${w}`;
        for (let i = 0; i < appendsPerWriter; i++) {
          await store.append(streamId, [event(type, { w, i })], { expectedVersion: i });
        }
      }),
    );
    writing = false;
    await tail;
    for (const write of writes) if (write.status === 'rejected') throw write.reason;

    expect(seen.length).toBe(total);
    expectStrictlyIncreasing(seen.map((e) => e.position));
    const keys = new Set(seen.map((e) => `${e.streamId}@${e.version}`));
    expect(keys.size).toBe(total);
    for (const w of range(0, writers - 1)) {
      const own = seen.filter((e) => e.streamId === `${type}/writer-${w}`);
      expect(own.map((e) => e.version)).toEqual(range(1, appendsPerWriter));
    }
    // What the reader assembled while writers raced is exactly the log read afterwards.
    const after: StoredEvent[] = [];
    for (let from = start; ;) {
      const batch = await harness.store.readAll({ fromPosition: from, types: [type], limit: 2000 });
      if (batch.length === 0) break;
      after.push(...batch);
      from = batch[batch.length - 1]?.position ?? from;
    }
    expect(after.map((e) => e.position)).toEqual(seen.map((e) => e.position));
  }, 180_000);
}
