import { z } from 'zod';
import { StreamDeletedError } from '../event-store/event-store.errors';
import { type StoredEvent } from '../event-store/event-store.port';
import { messageType } from '../messages/message.type';
import { type EventStoreConformanceContext } from './event-store.conformance';
import {
  event,
  expectConflict,
  range,
  uniqueName,
  versions,
  waitFor,
} from './event-store.conformance.fixtures';

const DAY_MS = 24 * 60 * 60 * 1000;

export function lifecycleScenarios(context: EventStoreConformanceContext): void {
  const store = () => context.harness().store;

  it('delivers past and live events to a catch-up subscription until it is stopped', async () => {
    const streamId = uniqueName('sub');
    const type = uniqueName('Sub');
    const first = await store().append(
      streamId,
      range(1, 3).map((n) => event(type, n)),
      { expectedVersion: 'no-stream' },
    );
    const received: StoredEvent[] = [];
    const subscription = store().subscribe({
      fromPosition: (first.positions[0] ?? 1) - 1,
      types: [type],
      pollIntervalMs: 20,
      handler: (e) => {
        received.push(e);
      },
    });
    await waitFor(() => received.length === 3);
    await store().append(streamId, [event(type, 4), event(type, 5)], { expectedVersion: 3 });
    await waitFor(() => received.length === 5);
    await subscription.stop();
    expect(received.map((e) => e.data)).toEqual([1, 2, 3, 4, 5]);
    expect(subscription.position).toBe(received[4]?.position);
    await store().append(streamId, [event(type, 6)], { expectedVersion: 5 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toHaveLength(5);

    // A failing handler stops the subscription and reports the error.
    const failure = new Error('handler failed');
    const errors: unknown[] = [];
    const failing = store().subscribe({
      fromPosition: subscription.position,
      types: [type],
      pollIntervalMs: 20,
      handler: () => {
        throw failure;
      },
      onError: (error) => errors.push(error),
    });
    await waitFor(() => errors.length === 1);
    await failing.stop();
    expect(errors).toEqual([failure]);
    expect(failing.position).toBe(subscription.position);
  });

  it('warns once, naming the event and the error, when a handler fails under a subscription without onError', async () => {
    const streamId = uniqueName('unheard');
    const type = uniqueName('Unheard');
    const written = range(1, 3).map((n) => event(type, n));
    const first = await store().append(streamId, written, { expectedVersion: 'no-stream' });
    // Replaced by hand, not spied on: the suite runs under any test runner.
    const emitWarning = process.emitWarning;
    const warnings: { message: string; type?: string; code?: string }[] = [];
    process.emitWarning = ((warning: string | Error, options?: unknown) => {
      const { type: kind, code } = (options ?? {}) as { type?: string; code?: string };
      if (String(warning).includes(streamId))
        warnings.push({ message: String(warning), type: kind, code });
    }) as typeof process.emitWarning;
    try {
      const received: StoredEvent[] = [];
      const subscription = store().subscribe({
        fromPosition: (first.positions[0] ?? 1) - 1,
        types: [type],
        pollIntervalMs: 20,
        handler: (e) => {
          if (e.version === 2) throw new Error(`projection bug at ${e.streamId}@2`);
          received.push(e);
        },
      });
      await waitFor(() => warnings.length > 0);
      await store().append(streamId, [event(type, 4)], { expectedVersion: 3 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await subscription.stop();
      // It stopped at the failing event, and said so once.
      expect(received.map((e) => e.data)).toEqual([1]);
      expect(subscription.position).toBe(first.positions[0]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({
        type: 'CausewaySubscriptionWarning',
        code: 'CAUSEWAY_SUBSCRIPTION_FAILED',
      });
      const { message } = warnings[0]!;
      for (const fact of [
        `position ${first.positions[0]}`,
        `${type} ${written[1]?.messageId}`,
        `stream ${streamId}, version 2, position ${first.positions[1]}`,
        `Error: projection bug at ${streamId}@2`,
      ])
        expect(message).toContain(fact);
    } finally {
      process.emitWarning = emitWarning;
    }
  });

  it('filters by message types as by their names: readAll, readAllPage and subscribe', async () => {
    const streamId = uniqueName('typed');
    const Counted = messageType(uniqueName('Counted'), z.object({ n: z.number() }));
    const other = uniqueName('Other');
    const written = await store().append(
      streamId,
      [event(Counted.type, { n: 1 }), event(other, { n: 2 }), event(Counted.type, { n: 3 })],
      { expectedVersion: 'no-stream' },
    );
    const from = (written.positions[0] ?? 1) - 1;
    const counts = (events: readonly StoredEvent[]) =>
      events.map((e) => (Counted.is(e) ? e.data.n : `${e.type}`));

    expect(counts(await store().readAll({ fromPosition: from, types: [Counted] }))).toEqual([1, 3]);
    const page = await store().readAllPage({ fromPosition: from, types: [Counted] });
    expect(counts(page.events)).toEqual([1, 3]);
    // Names and message types mix, as in EventBus.on.
    expect(
      versions(await store().readAll({ fromPosition: from, types: [Counted, other] })),
    ).toEqual([1, 2, 3]);

    const received: StoredEvent[] = [];
    const subscription = store().subscribe({
      fromPosition: from,
      types: [Counted],
      pollIntervalMs: 20,
      handler: (e) => {
        received.push(e);
      },
    });
    await waitFor(() => received.length === 2);
    await store().append(streamId, [event(other, { n: 4 }), event(Counted.type, { n: 5 })], {
      expectedVersion: 3,
    });
    await waitFor(() => received.length === 3);
    await subscription.stop();
    expect(counts(received)).toEqual([1, 3, 5]);
  });

  it('soft-deletes a stream, which can then be created again with versions continuing', async () => {
    const streamId = uniqueName('soft');
    const type = uniqueName('Soft');
    const first = await store().append(
      streamId,
      range(1, 3).map((n) => event(type, n)),
      { expectedVersion: 'no-stream' },
    );
    await expectConflict(store().deleteStream(streamId, { mode: 'soft', expectedVersion: 2 }), {
      streamId,
      expected: 2,
      actual: 3,
    });
    expect(await store().readStream(streamId)).toHaveLength(3);
    await store().deleteStream(streamId, { mode: 'soft', expectedVersion: 3 });
    expect(await store().readStream(streamId)).toEqual([]);
    expect(
      await store().readAll({ fromPosition: (first.positions[0] ?? 1) - 1, types: [type] }),
    ).toEqual([]);
    await expect(store().streamInfo(streamId)).resolves.toEqual({
      streamId,
      version: 3,
      firstVersion: 4,
      state: 'soft-deleted',
    });
    await expectConflict(
      store().append(streamId, [event(type, 4)], { expectedVersion: 'exists' }),
      { streamId, expected: 'exists', actual: 3 },
    );

    await expect(
      store().append(streamId, [event(type, 4)], { expectedVersion: 'no-stream' }),
    ).resolves.toMatchObject({ nextExpectedVersion: 4 });
    expect((await store().readStream(streamId)).map((e) => [e.version, e.data])).toEqual([[4, 4]]);
    await expect(store().streamInfo(streamId)).resolves.toEqual({
      streamId,
      version: 4,
      firstVersion: 4,
      state: 'active',
    });
  });

  it('hard-deletes a stream with a tombstone: it can never be written again', async () => {
    const streamId = uniqueName('hard');
    const type = uniqueName('Hard');
    const first = await store().append(streamId, [event(type, 1), event(type, 2)], {
      expectedVersion: 'no-stream',
    });
    await expectConflict(store().deleteStream(streamId, { mode: 'hard', expectedVersion: 1 }), {
      streamId,
      expected: 1,
      actual: 2,
    });
    await store().deleteStream(streamId, { mode: 'hard', expectedVersion: 2 });
    for (const expectedVersion of ['any', 'no-stream', 2, 3] as const) {
      await expect(
        store().append(streamId, [event(type, 3)], { expectedVersion }),
      ).rejects.toBeInstanceOf(StreamDeletedError);
    }
    await expect(store().deleteStream(streamId, { mode: 'soft' })).rejects.toBeInstanceOf(
      StreamDeletedError,
    );
    await expect(store().streamInfo(streamId)).resolves.toMatchObject({
      streamId,
      version: 2,
      state: 'tombstoned',
    });
    expect(await store().readStream(streamId)).toEqual([]);
    expect(
      await store().readAll({ fromPosition: (first.positions[0] ?? 1) - 1, types: [type] }),
    ).toEqual([]);
  });

  it('truncates a stream before a version', async () => {
    const streamId = uniqueName('truncate');
    const type = uniqueName('Trunc');
    const first = await store().append(
      streamId,
      range(1, 10).map((n) => event(type, n)),
      { expectedVersion: 'no-stream' },
    );
    await store().truncateStream(streamId, 4);
    expect(versions(await store().readStream(streamId))).toEqual(range(4, 10));
    expect(versions(await store().readStream(streamId, { direction: 'backwards' }))).toEqual(
      range(4, 10).reverse(),
    );
    expect(
      versions(
        await store().readAll({ fromPosition: (first.positions[0] ?? 1) - 1, types: [type] }),
      ),
    ).toEqual(range(4, 10));
    await expect(store().streamInfo(streamId)).resolves.toEqual({
      streamId,
      version: 10,
      firstVersion: 4,
      state: 'active',
      truncated: true,
    });
    await expect(
      store().append(streamId, [event(type, 11)], { expectedVersion: 10 }),
    ).resolves.toMatchObject({ nextExpectedVersion: 11 });
  });

  it('keeps recognising an event stored twice after its older copy is truncated', async () => {
    const streamId = uniqueName('truncate-twice');
    const once = event('Twice', 1);
    await store().append(streamId, [once], { expectedVersion: 'no-stream' });
    // The expected version holds: no idempotency check, the event is stored again (version 2).
    await store().append(streamId, [once], { expectedVersion: 1 });
    await store().truncateStream(streamId, 2);
    await expect(store().append(streamId, [once], { expectedVersion: 'any' })).resolves.toEqual({
      nextExpectedVersion: 2,
      positions: [],
    });
    expect(versions(await store().readStream(streamId))).toEqual([2]);
  });

  it('applies retention by maximum age (oldest prefix) and by maximum count, within a prefix', async () => {
    const prefix = uniqueName('retention') + '/';
    const aged = prefix + 'aged';
    const counted = prefix + 'counted';
    const outside = uniqueName('retention-outside');
    const old = new Date(Date.now() - 2 * DAY_MS).toISOString();
    const stamps = [old, old, old, new Date().toISOString(), old, new Date().toISOString()];
    await store().append(
      aged,
      stamps.map((timestamp, i) => event('Aged', i + 1, { timestamp })),
      { expectedVersion: 'no-stream' },
    );
    await store().append(
      counted,
      range(1, 10).map((n) => event('Counted', n)),
      { expectedVersion: 'no-stream' },
    );
    await store().append(
      outside,
      range(1, 10).map((n) => event('Counted', n, { timestamp: old })),
      { expectedVersion: 'no-stream' },
    );

    // Only the prefix of old events goes: the old event after a recent one stays (versions never get holes).
    await expect(store().applyRetention({ maxAgeMs: DAY_MS, streamPrefix: prefix })).resolves.toBe(
      3,
    );
    expect(versions(await store().readStream(aged))).toEqual([4, 5, 6]);
    await expect(store().applyRetention({ maxCount: 2, streamPrefix: prefix })).resolves.toBe(9);
    expect(versions(await store().readStream(aged))).toEqual([5, 6]);
    expect(versions(await store().readStream(counted))).toEqual([9, 10]);
    await expect(store().streamInfo(counted)).resolves.toMatchObject({
      version: 10,
      firstVersion: 9,
      state: 'active',
      truncated: true,
    });
    expect(await store().readStream(outside)).toHaveLength(10);
    await expect(store().applyRetention({ maxCount: 2, streamPrefix: prefix })).resolves.toBe(0);
  });

  it('applies maximum age and maximum count together: each stream loses the larger of the two cuts', async () => {
    const prefix = uniqueName('retention-both') + '/';
    const old = new Date(Date.now() - 2 * DAY_MS).toISOString();
    const young = new Date().toISOString();
    const stamped = (stamps: string[]) =>
      stamps.map((timestamp, i) => event('Both', i + 1, { timestamp }));
    // Age cuts more here (4 old events, count keeps 3 of 6), count cuts more there (1 old of 6).
    const byAge = prefix + 'by-age';
    const byCount = prefix + 'by-count';
    await store().append(byAge, stamped([old, old, old, old, young, young]), {
      expectedVersion: 'no-stream',
    });
    await store().append(byCount, stamped([old, young, young, young, young, young]), {
      expectedVersion: 'no-stream',
    });
    await expect(
      store().applyRetention({ maxAgeMs: DAY_MS, maxCount: 3, streamPrefix: prefix }),
    ).resolves.toBe(4 + 3);
    expect(versions(await store().readStream(byAge))).toEqual([5, 6]);
    expect(versions(await store().readStream(byCount))).toEqual([4, 5, 6]);
    await expect(
      store().applyRetention({ maxAgeMs: DAY_MS, maxCount: 3, streamPrefix: prefix }),
    ).resolves.toBe(0);
  });

  it('keeps the events after maxPosition, which readers have not got to, whatever else retention says', async () => {
    const prefix = uniqueName('retention-read') + '/';
    const [a, b] = [prefix + 'a', prefix + 'b'];
    const old = new Date(Date.now() - 2 * DAY_MS).toISOString();
    // Interleaved appends, several events each: the readers' position falls inside a commit of b.
    const positions: number[] = [];
    for (let n = 1; n <= 3; n++) {
      for (const streamId of [a, b]) {
        const { positions: appended } = await store().append(
          streamId,
          [event('Kept', n * 2 - 1, { timestamp: old }), event('Kept', n * 2, { timestamp: old })],
          { expectedVersion: (n - 1) * 2 },
        );
        positions.push(...appended);
      }
    }
    // Read up to the first event of b's second commit: a1 a2 b1 b2 a3 a4 b3.
    const readUpTo = positions[6]!;
    await expect(
      store().applyRetention({
        maxCount: 0,
        maxAgeMs: 0,
        streamPrefix: prefix,
        maxPosition: readUpTo,
      }),
    ).resolves.toBe(7);
    expect(versions(await store().readStream(a))).toEqual([5, 6]);
    expect(versions(await store().readStream(b))).toEqual([4, 5, 6]);
    await expect(
      store().applyRetention({ maxCount: 0, streamPrefix: prefix, maxPosition: 0 }),
    ).resolves.toBe(0);
    // Once the readers have read everything, the rest goes.
    await expect(
      store().applyRetention({ maxCount: 0, streamPrefix: prefix, maxPosition: positions[11]! }),
    ).resolves.toBe(5);
    expect(await store().readStream(b)).toEqual([]);
  });

  it('reports truncated and unknown streams consistently', async () => {
    const streamId = uniqueName('info');
    await store().truncateStream(streamId, 5);
    await expect(store().streamInfo(streamId)).resolves.toEqual({
      streamId,
      version: 0,
      firstVersion: 1,
      state: 'missing',
    });
    await store().append(streamId, [event('Info', 1), event('Info', 2)], {
      expectedVersion: 'no-stream',
    });
    await store().truncateStream(streamId, 99);
    // Truncating past the head removes every event; the stream then counts as having none.
    await expect(store().streamInfo(streamId)).resolves.toEqual({
      streamId,
      version: 2,
      firstVersion: 3,
      state: 'active',
      truncated: true,
    });
    expect(await store().readStream(streamId)).toEqual([]);
    await expect(
      store().append(streamId, [event('Info', 3)], { expectedVersion: 'no-stream' }),
    ).resolves.toMatchObject({ nextExpectedVersion: 3 });
  });

  it('tells a stream cut by a truncate or retention from one created again after a soft delete', async () => {
    const prefix = uniqueName('cut-or-deleted') + '/';
    const info = (streamId: string) => store().streamInfo(streamId);
    const append = (streamId: string, from: number, to: number, expectedVersion: number) =>
      store().append(
        streamId,
        range(from, to).map((n) => event('Cut', n)),
        { expectedVersion: expectedVersion === 0 ? 'no-stream' : expectedVersion },
      );
    // Soft-deleted, then created again: it starts past version 1, but nothing of it was cut.
    const reborn = prefix + 'reborn';
    await append(reborn, 1, 3, 0);
    await store().deleteStream(reborn, { mode: 'soft' });
    await store().append(reborn, [event('Cut', 4)], { expectedVersion: 'no-stream' });
    await expect(info(reborn)).resolves.toEqual({
      streamId: reborn,
      version: 4,
      firstVersion: 4,
      state: 'active',
    });
    // Then cut by retention: truncated.
    await append(reborn, 5, 6, 4);
    await expect(store().applyRetention({ maxCount: 1, streamPrefix: reborn })).resolves.toBe(2);
    await expect(info(reborn)).resolves.toMatchObject({ firstVersion: 6, truncated: true });
    // Truncated, then soft-deleted (the cut is part of the history the delete removed), then
    // created again: not truncated; a truncate that removes nothing marks nothing.
    const cutThenDeleted = prefix + 'cut-then-deleted';
    await append(cutThenDeleted, 1, 3, 0);
    await store().truncateStream(cutThenDeleted, 3);
    await expect(info(cutThenDeleted)).resolves.toMatchObject({ truncated: true });
    await store().deleteStream(cutThenDeleted, { mode: 'soft' });
    await expect(info(cutThenDeleted)).resolves.toEqual({
      streamId: cutThenDeleted,
      version: 3,
      firstVersion: 4,
      state: 'soft-deleted',
    });
    await store().append(cutThenDeleted, [event('Cut', 4)], { expectedVersion: 'no-stream' });
    await store().truncateStream(cutThenDeleted, 4);
    await expect(info(cutThenDeleted)).resolves.toEqual({
      streamId: cutThenDeleted,
      version: 4,
      firstVersion: 4,
      state: 'active',
    });
    // Hard-deleted: tombstoned, not truncated.
    const tombstoned = prefix + 'tombstoned';
    await append(tombstoned, 1, 2, 0);
    await store().truncateStream(tombstoned, 2);
    await store().deleteStream(tombstoned, { mode: 'hard' });
    const hard = await info(tombstoned);
    expect(hard).toMatchObject({ version: 2, state: 'tombstoned' });
    expect(hard).not.toHaveProperty('truncated');
  });
}
