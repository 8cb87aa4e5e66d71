import { ConcurrencyConflictError, StreamDeletedError } from '../event-store/event-store.errors';
import { type AppendOptions, type EventStore } from '../event-store/event-store.port';
import { type EventStoreConformanceContext } from './event-store.conformance';
import {
  event,
  expectConflict,
  expectStrictlyIncreasing,
  range,
  uniqueName,
  versions,
} from './event-store.conformance.fixtures';

export function appendScenarios(context: EventStoreConformanceContext): void {
  const store = () => context.harness().store;

  it('appends events and reads them back in version order, with positions', async () => {
    const streamId = uniqueName('basic');
    const events = [
      event('Opened', { owner: 'ann' }),
      event('Deposited', { amount: 10 }),
      event('Deposited', { amount: 5 }),
    ];
    const result = await store().append(streamId, events, { expectedVersion: 'no-stream' });
    expect(result.nextExpectedVersion).toBe(3);
    expect(result.positions).toHaveLength(3);
    expectStrictlyIncreasing(result.positions);
    if (context.features.densePositions) {
      expect(result.positions).toEqual(
        range(result.positions[0] ?? 0, (result.positions[0] ?? 0) + 2),
      );
    }

    const read = await store().readStream(streamId);
    expect(
      read.map((e) => [e.streamId, e.version, e.position, e.messageId, e.type, e.data]),
    ).toEqual(
      events.map((e, i) => [streamId, i + 1, result.positions[i], e.messageId, e.type, e.data]),
    );
    expect(read[0]?.aggregateId).toBe(events[0]?.aggregateId);
    expect(read[0]?.metadata.timestamp).toBe(events[0]?.metadata.timestamp);
    expect(read[0]?.metadata.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    await expect(store().streamInfo(streamId)).resolves.toEqual({
      streamId,
      version: 3,
      firstVersion: 1,
      state: 'active',
    });

    const missing = uniqueName('missing');
    await expect(store().readStream(missing)).resolves.toEqual([]);
    await expect(store().streamInfo(missing)).resolves.toEqual({
      streamId: missing,
      version: 0,
      firstVersion: 1,
      state: 'missing',
    });
  });

  it('checks every kind of expected version and names stream, expected and actual on conflict', async () => {
    const streamId = uniqueName('expected');
    await expectConflict(store().append(streamId, [event('E', 1)], { expectedVersion: 1 }), {
      streamId,
      expected: 1,
      actual: 0,
    });
    await expectConflict(store().append(streamId, [event('E', 1)], { expectedVersion: 'exists' }), {
      streamId,
      expected: 'exists',
      actual: 0,
    });
    await expect(
      store().append(streamId, [event('E', 1)], { expectedVersion: 'no-stream' }),
    ).resolves.toMatchObject({ nextExpectedVersion: 1 });
    await expectConflict(
      store().append(streamId, [event('E', 2)], { expectedVersion: 'no-stream' }),
      { streamId, expected: 'no-stream', actual: 1 },
    );
    await expectConflict(store().append(streamId, [event('E', 2)], { expectedVersion: 0 }), {
      streamId,
      expected: 0,
      actual: 1,
    });
    await expectConflict(store().append(streamId, [event('E', 2)], { expectedVersion: 2 }), {
      streamId,
      expected: 2,
      actual: 1,
    });
    await expect(
      store().append(streamId, [event('E', 2)], { expectedVersion: 1 }),
    ).resolves.toMatchObject({ nextExpectedVersion: 2 });
    await expect(
      store().append(streamId, [event('E', 3), event('E', 4)], { expectedVersion: 'exists' }),
    ).resolves.toMatchObject({ nextExpectedVersion: 4 });
    await expect(
      store().append(streamId, [event('E', 5)], { expectedVersion: 'any' }),
    ).resolves.toMatchObject({ nextExpectedVersion: 5 });
    const fresh = uniqueName('expected-zero');
    await expect(
      store().append(fresh, [event('E', 1)], { expectedVersion: 0 }),
    ).resolves.toMatchObject({ nextExpectedVersion: 1 });
    const any = uniqueName('expected-any');
    await expect(
      store().append(any, [event('E', 1)], { expectedVersion: 'any' }),
    ).resolves.toMatchObject({ nextExpectedVersion: 1 });
    // Nothing of the refused appends was written.
    expect((await store().readStream(streamId)).map((e) => e.data)).toEqual([1, 2, 3, 4, 5]);
  });

  it('refuses an expected version or delete mode outside the port before doing anything, naming it', async () => {
    const streamId = uniqueName('invalid');
    await store().append(streamId, [event('E', 1)], { expectedVersion: 'no-stream' });
    const refused = async (attempt: Promise<unknown>, option: string, shown: string) => {
      const error = await attempt.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toContain(option);
      expect((error as Error).message).toContain(shown);
    };
    const append = (options: unknown) =>
      store().append(streamId, [event('E', 2)], options as AppendOptions);
    await refused(append({ expectedVersion: 'nostream' }), 'expectedVersion', '"nostream"');
    await refused(append({ expectedVersion: 'NO-STREAM' }), 'expectedVersion', '"NO-STREAM"');
    await refused(append({ expectedVersion: -1 }), 'expectedVersion', '-1');
    await refused(append({ expectedVersion: 0.5 }), 'expectedVersion', '0.5');
    await refused(append({ expectedVersion: '1' }), 'expectedVersion', '"1"');
    await refused(append({}), 'expectedVersion', 'undefined');
    await refused(append(undefined), 'expectedVersion', 'undefined');
    const remove = (options: unknown) =>
      store().deleteStream(streamId, options as Parameters<EventStore['deleteStream']>[1]);
    await refused(remove({ mode: 'Soft' }), 'mode', '"Soft"');
    await refused(remove({ mode: 'permanent' }), 'mode', '"permanent"');
    await refused(remove({}), 'mode', 'undefined');
    await refused(remove(undefined), 'mode', 'undefined');
    await refused(
      remove({ mode: 'soft', expectedVersion: 'nostream' }),
      'expectedVersion',
      '"nostream"',
    );
    await refused(remove({ mode: 'hard', expectedVersion: -1 }), 'expectedVersion', '-1');
    // Nothing was written, deleted or tombstoned.
    await expect(store().streamInfo(streamId)).resolves.toEqual({
      streamId,
      version: 1,
      firstVersion: 1,
      state: 'active',
    });
    expect((await store().readStream(streamId)).map((e) => e.data)).toEqual([1]);
    const missing = uniqueName('invalid-missing');
    await refused(remove({ mode: 'Hard' }), 'mode', '"Hard"');
    await refused(
      store().deleteStream(missing, { mode: 'Hard' } as unknown as { mode: 'hard' }),
      'mode',
      '"Hard"',
    );
    await expect(store().streamInfo(missing)).resolves.toMatchObject({ state: 'missing' });
  });

  it('lets exactly one of concurrent writers win a version, from several connections', async () => {
    const harness = context.harness();
    const stores = [
      harness.store,
      ...(await Promise.all(range(1, 3).map(() => harness.connect()))),
    ];
    const streamId = uniqueName('race');
    await harness.store.append(streamId, [event('Raced', -1)], { expectedVersion: 'no-stream' });
    const outcomes = await Promise.allSettled(
      range(0, 7).map((i) =>
        stores[i % stores.length]!.append(streamId, [event('Raced', i)], { expectedVersion: 1 }),
      ),
    );
    const winners = outcomes.filter((o) => o.status === 'fulfilled');
    const losers = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(7);
    for (const loser of losers) {
      expect(loser).toBeInstanceOf(ConcurrencyConflictError);
      expect(loser).toMatchObject({ streamId, expected: 1, actual: 2 });
    }

    // With 'any' every writer gets in, each batch stays contiguous and versions have no gaps.
    await Promise.all(
      range(0, 7).map((i) =>
        stores[i % stores.length]!.append(
          streamId,
          [event('Batch', { i, n: 0 }), event('Batch', { i, n: 1 })],
          { expectedVersion: 'any' },
        ),
      ),
    );
    const read = await harness.store.readStream(streamId);
    expect(versions(read)).toEqual(range(1, 18));
    expectStrictlyIncreasing(read.map((e) => e.position));
    const batches = read.slice(2);
    for (let k = 0; k < batches.length; k += 2) {
      expect((batches[k + 1]?.data as { i: number }).i).toBe((batches[k]?.data as { i: number }).i);
    }
  });

  it('lets one of 20 appends at one expected version from one store win; the others conflict or re-append', async () => {
    const streamId = uniqueName('race-one-store');
    await store().append(streamId, [event('Raced', -1)], { expectedVersion: 'no-stream' });
    const batches = range(0, 19).map((i) => [event('Raced', i), event('Raced', i + 100)]);
    const outcomes = await Promise.allSettled(
      batches.map((batch) => store().append(streamId, batch, { expectedVersion: 1 })),
    );
    const won = outcomes.findIndex((o) => o.status === 'fulfilled');
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toBeInstanceOf(ConcurrencyConflictError);
        expect(outcome.reason).toMatchObject({ streamId, expected: 1, actual: 3 });
      }
    }
    // The winner's retry (same events, same expected version) among new losers: a re-append.
    const again = await Promise.allSettled(
      [won, (won + 1) % 20, won, (won + 2) % 20].map((i) =>
        store().append(streamId, batches[i]!, { expectedVersion: 1 }),
      ),
    );
    expect(again.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    expect(again[0]).toEqual({
      status: 'fulfilled',
      value: { nextExpectedVersion: 3, positions: [] },
    });
    expect(versions(await store().readStream(streamId))).toEqual([1, 2, 3]);
  });

  it('checks an empty append like any other, also from a store that has not seen the stream', async () => {
    const streamId = uniqueName('empty');
    await store().append(streamId, [event('E', 1), event('E', 2)], {
      expectedVersion: 'no-stream',
    });
    // Another process's store: it knows nothing of the stream and must still read its head.
    const other = await context.harness().connect();
    for (const writer of [store(), other]) {
      await expect(writer.append(streamId, [], { expectedVersion: 2 })).resolves.toEqual({
        nextExpectedVersion: 2,
        positions: [],
      });
      await expect(writer.append(streamId, [], { expectedVersion: 'any' })).resolves.toEqual({
        nextExpectedVersion: 2,
        positions: [],
      });
      await expectConflict(writer.append(streamId, [], { expectedVersion: 'no-stream' }), {
        streamId,
        expected: 'no-stream',
        actual: 2,
      });
      await expectConflict(writer.append(streamId, [], { expectedVersion: 0 }), {
        streamId,
        expected: 0,
        actual: 2,
      });
    }
    const fresh = uniqueName('empty-new');
    await expectConflict(other.append(fresh, [], { expectedVersion: 'exists' }), {
      streamId: fresh,
      expected: 'exists',
      actual: 0,
    });
    const tombstoned = uniqueName('empty-hard');
    await store().append(tombstoned, [event('E', 1)], { expectedVersion: 'no-stream' });
    await store().deleteStream(tombstoned, { mode: 'hard' });
    for (const expectedVersion of ['no-stream', 'any', 1] as const)
      await expect(other.append(tombstoned, [], { expectedVersion })).rejects.toBeInstanceOf(
        StreamDeletedError,
      );
  });

  it('treats a re-append of the same events (same messageIds, same order) as done', async () => {
    const streamId = uniqueName('idempotent');
    const [a, b, c, d] = [event('I', 'a'), event('I', 'b'), event('I', 'c'), event('I', 'd')];
    await store().append(streamId, [a, b], { expectedVersion: 'no-stream' });
    await expect(
      store().append(streamId, [a, b], { expectedVersion: 'no-stream' }),
    ).resolves.toEqual({ nextExpectedVersion: 2, positions: [] });
    await expect(store().append(streamId, [a, b], { expectedVersion: 0 })).resolves.toEqual({
      nextExpectedVersion: 2,
      positions: [],
    });
    await expect(store().append(streamId, [a, b], { expectedVersion: 'any' })).resolves.toEqual({
      nextExpectedVersion: 2,
      positions: [],
    });
    await store().append(streamId, [c], { expectedVersion: 2 });
    // The result names the version of the last re-appended event, not the stream's head.
    await expect(store().append(streamId, [a], { expectedVersion: 'any' })).resolves.toEqual({
      nextExpectedVersion: 1,
      positions: [],
    });
    await expect(store().append(streamId, [b, c], { expectedVersion: 'exists' })).resolves.toEqual({
      nextExpectedVersion: 3,
      positions: [],
    });
    // A batch that overlaps stored events without being exactly them is a conflict.
    await expectConflict(store().append(streamId, [a, c], { expectedVersion: 'any' }), {
      streamId,
      expected: 'any',
      actual: 3,
    });
    await expectConflict(store().append(streamId, [c, d], { expectedVersion: 'any' }), {
      streamId,
      expected: 'any',
      actual: 3,
    });
    // Concurrent retries of one append write it once.
    const harness = context.harness();
    const other = await harness.connect();
    await Promise.all(
      range(0, 5).map((i) =>
        (i % 2 ? other : harness.store).append(streamId, [d], { expectedVersion: 'any' }),
      ),
    );
    expect((await store().readStream(streamId)).map((e) => e.data)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('says a batch partly stored already is the conflict, not the expected version, when that held', async () => {
    const streamId = uniqueName('overlap');
    const [a, b, c] = [event('O', 'a'), event('O', 'b'), event('O', 'c')];
    await store().append(streamId, [a, b], { expectedVersion: 'no-stream' });
    const conflict = (expectedVersion: AppendOptions['expectedVersion']) =>
      store()
        .append(streamId, [b, c], { expectedVersion })
        .then(
          () => {
            throw new Error(`the append at ${expectedVersion} went through`);
          },
          (error: unknown) => error as ConcurrencyConflictError,
        );
    // The stream exists (and 'any' holds for every stream): only the messageIds conflict.
    for (const expectedVersion of ['exists', 'any'] as const) {
      const error = await conflict(expectedVersion);
      expect(error).toBeInstanceOf(ConcurrencyConflictError);
      expect(error).toMatchObject({ streamId, expected: expectedVersion, actual: 2 });
      expect(error.overlap).toBe(true);
      expect(error.message).toContain('messageIds');
      expect(error.message).not.toContain('no events left');
    }
    // An expected version that does not hold is the conflict itself, as ever.
    const stale = await conflict(1);
    expect(stale).toMatchObject({ streamId, expected: 1, actual: 2 });
    expect(stale.overlap).toBeUndefined();
    expect(stale.message).toContain('expected version 1, actual 2');
    expect(versions(await store().readStream(streamId))).toEqual([1, 2]);
  });

  it('reads a stream forwards and backwards, by version range and with a limit', async () => {
    const streamId = uniqueName('ranges');
    await store().append(
      streamId,
      range(1, 10).map((n) => event('R', n)),
      { expectedVersion: 'no-stream' },
    );
    const read = async (options: Parameters<ReturnType<typeof store>['readStream']>[1]) =>
      versions(await store().readStream(streamId, options));
    expect(await read({})).toEqual(range(1, 10));
    expect(await read({ fromVersion: 3 })).toEqual(range(3, 10));
    expect(await read({ toVersion: 5 })).toEqual(range(1, 5));
    expect(await read({ fromVersion: 3, toVersion: 6 })).toEqual(range(3, 6));
    expect(await read({ limit: 2 })).toEqual([1, 2]);
    expect(await read({ fromVersion: 4, limit: 3 })).toEqual([4, 5, 6]);
    expect(await read({ fromVersion: 11 })).toEqual([]);
    expect(await read({ direction: 'backwards' })).toEqual(range(1, 10).reverse());
    expect(await read({ direction: 'backwards', limit: 3 })).toEqual([10, 9, 8]);
    expect(await read({ direction: 'backwards', fromVersion: 7, toVersion: 4 })).toEqual([
      7, 6, 5, 4,
    ]);
    expect(await read({ direction: 'backwards', fromVersion: 7, limit: 2 })).toEqual([7, 6]);
  });

  it('reads all streams in position order, filtered by type, with a limit, resuming from a position', async () => {
    const [s1, s2, s3] = [uniqueName('all-1'), uniqueName('all-2'), uniqueName('all-3')];
    const [A, B] = [uniqueName('TypeA'), uniqueName('TypeB')];
    const first = await store().append(s1, [event(A, 1), event(B, 2)], {
      expectedVersion: 'no-stream',
    });
    await store().append(s2, [event(A, 3)], { expectedVersion: 'no-stream' });
    await store().append(s1, [event(B, 4)], { expectedVersion: 2 });
    await store().append(s3, [event(A, 5), event(A, 6), event(B, 7)], {
      expectedVersion: 'no-stream',
    });
    const start = (first.positions[0] ?? 1) - 1;

    const all = await store().readAll({ fromPosition: start, types: [A, B] });
    expect(all.map((e) => e.data)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(all.map((e) => [e.streamId, e.version])).toEqual([
      [s1, 1],
      [s1, 2],
      [s2, 1],
      [s1, 3],
      [s3, 1],
      [s3, 2],
      [s3, 3],
    ]);
    expectStrictlyIncreasing(all.map((e) => e.position));
    const unfiltered = await store().readAll({ fromPosition: start });
    expect(unfiltered.map((e) => e.data)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    expect((await store().readAll({ fromPosition: start, types: [A] })).map((e) => e.data)).toEqual(
      [1, 3, 5, 6],
    );
    expect(
      (await store().readAll({ fromPosition: start, types: [A], limit: 2 })).map((e) => e.data),
    ).toEqual([1, 3]);
    expect(
      (await store().readAll({ fromPosition: start, types: [A, B], limit: 3 })).map((e) => e.data),
    ).toEqual([1, 2, 3]);
    // Resuming from any event's position continues right after it, even inside one append.
    for (const [i, seen] of all.entries()) {
      const rest = await store().readAll({ fromPosition: seen.position, types: [A, B] });
      expect(rest.map((e) => e.data)).toEqual(all.slice(i + 1).map((e) => e.data));
    }
  });
}
