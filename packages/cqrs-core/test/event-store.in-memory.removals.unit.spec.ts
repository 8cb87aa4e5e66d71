import { InMemoryEventStore } from '../src';
import { testEnvelope } from '../src/testing';

// Each removed event left an empty slot in the log for ever: a store whose retention kept its
// events bounded (the embedded mode's) still grew by a slot per event ever appended, and a read
// of the log from 0 walked every one of them (session 48).
describe('InMemoryEventStore: the log holds no slot for removed events', () => {
  const STREAMS = 10;
  const KEPT = 5;

  /** `rounds` events to each of STREAMS streams, in turns (s-0, s-1, …, s-9, s-0, …). */
  async function appendRounds(store: InMemoryEventStore, rounds: number): Promise<void> {
    for (let round = 0; round < rounds; round++)
      for (let s = 0; s < STREAMS; s++)
        await store.append(`s-${s}`, [testEnvelope('Moved', { round })], {
          expectedVersion: 'any',
        });
  }

  it('stays as large as what retention keeps, however many events were appended before', async () => {
    const store = new InMemoryEventStore();
    const sizes: { events: number; logSlots: number }[] = [];
    for (let run = 0; run < 4; run++) {
      await appendRounds(store, 50);
      await store.applyRetention({ maxCount: KEPT });
      sizes.push(store.stats());
    }
    // 2 000 events appended, the last 5 of each stream kept: their 50 positions are the last 50.
    expect(sizes).toEqual(Array(4).fill({ events: STREAMS * KEPT, logSlots: STREAMS * KEPT }));
  });

  it('holds no slot for removed events between kept ones: a stream that stopped early does not pin the log', async () => {
    // The embedded mode: a trainer that moved a few times long ago keeps its events at low
    // positions; every later event of the busy ones is appended after them, and removed.
    const store = new InMemoryEventStore();
    await store.append('quiet', [testEnvelope('Moved', { round: 0 })], {
      expectedVersion: 'no-stream',
    });
    const sizes: { events: number; logSlots: number }[] = [];
    for (let run = 0; run < 4; run++) {
      await appendRounds(store, 50);
      await store.applyRetention({ maxCount: KEPT });
      sizes.push(store.stats());
    }
    const held = STREAMS * KEPT + 1;
    expect(sizes).toEqual(Array(4).fill({ events: held, logSlots: held }));
    // Read in pages of 7 from 0: every event kept once, in position order, the quiet one first.
    const seen: number[] = [];
    let position = 0;
    for (let caughtUp = false; !caughtUp;) {
      const page = await store.readAllPage({ fromPosition: position, limit: 7 });
      seen.push(...page.events.map((e) => e.position));
      ({ position, caughtUp } = page);
    }
    expect(seen[0]).toBe(1);
    expect(seen).toHaveLength(held);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(position).toBe(2001);
    const after = await store.readAllPage({ fromPosition: 1, types: ['Moved'], limit: 1 });
    expect(after.events[0]?.position).toBe(2001 - STREAMS * KEPT + 1);
  });

  it('reads from a position among the removed ones as from 0: the events kept, at their positions', async () => {
    const store = new InMemoryEventStore();
    await appendRounds(store, 100); // positions 1–1000
    await store.applyRetention({ maxCount: KEPT });
    const kept = Array.from({ length: STREAMS * KEPT }, (_, i) => 951 + i);

    for (const fromPosition of [0, 1, 500, 950]) {
      const all = await store.readAllPage({ fromPosition });
      expect(all.events.map((e) => e.position)).toEqual(kept);
      expect(all).toMatchObject({ position: 1000, caughtUp: true });
    }
    const page = await store.readAllPage({ fromPosition: 10, limit: 3 });
    expect(page.events.map((e) => [e.streamId, e.version, e.position])).toEqual([
      ['s-0', 96, 951],
      ['s-1', 96, 952],
      ['s-2', 96, 953],
    ]);
    expect(page).toMatchObject({ position: 953, caughtUp: false });
    expect((await store.readAllPage({ fromPosition: 953 })).events[0]?.position).toBe(954);
    expect((await store.readStream('s-3')).map((e) => e.position)).toEqual([
      954, 964, 974, 984, 994,
    ]);
    // Positions are never reused: the next event comes after the last one ever appended.
    const { positions } = await store.append('s-0', [testEnvelope('Moved', {})], {
      expectedVersion: 100,
    });
    expect(positions).toEqual([1001]);
  });

  it('holds no slot once every stream is deleted or truncated, and reads from 0 to the end', async () => {
    const store = new InMemoryEventStore();
    await appendRounds(store, 20); // positions 1–200
    for (let s = 0; s < STREAMS - 1; s++) await store.deleteStream(`s-${s}`, { mode: 'hard' });
    await store.truncateStream(`s-${STREAMS - 1}`, 21);
    expect(store.stats()).toEqual({ events: 0, logSlots: 0 });
    expect(await store.readAllPage({ fromPosition: 0 })).toEqual({
      events: [],
      position: 200,
      caughtUp: true,
    });
    const { positions } = await store.append('s-new', [testEnvelope('Moved', {})], {
      expectedVersion: 'no-stream',
    });
    expect(positions).toEqual([201]);
    expect((await store.readAll({ fromPosition: 3 })).map((e) => e.position)).toEqual([201]);
  });
});
