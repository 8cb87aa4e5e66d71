import { z } from 'zod';
import {
  ChecksumMismatchError,
  MessageTooLargeError,
  MessageValidationError,
  UnknownMessageTypeError,
} from '../messages/message.errors';
import { SerializerRegistry } from '../messages/serializer.registry';
import { type EventStoreConformanceContext } from './event-store.conformance';
import { type StoredEvent } from '../event-store/event-store.port';
import { event, uniqueName, waitFor } from './event-store.conformance.fixtures';

export function dataScenarios(context: EventStoreConformanceContext): void {
  const store = () => context.harness().store;

  it('stores a 1 MB event', async () => {
    const streamId = uniqueName('large');
    const blob = 'x'.repeat(1_000_000);
    await store().append(
      streamId,
      [event('Small', 1), event('Large', { blob }), event('Small', 3)],
      { expectedVersion: 'no-stream' },
    );
    const read = await store().readStream(streamId);
    expect(read.map((e) => e.type)).toEqual(['Small', 'Large', 'Small']);
    expect((read[1]?.data as { blob: string }).blob).toBe(blob);
  });

  it('keeps unicode, deeply nested data and keys with dots and dollars intact', async () => {
    const streamId = uniqueName('ström ✓ 日本');
    let nested: unknown = { leaf: '🍃' };
    for (let depth = 0; depth < 40; depth++)
      nested = { [`level.${depth}`]: nested, list: [[depth, [depth]]] };
    const data = {
      'emoji 🚀': 'π ≈ 3.14159 — 日本語 — עברית — \u0000\u2028 "quoted" \\slash',
      'a.b': { $c: [[1, [2, { 'd.e': null }]]], '': 'empty key' },
      nested,
      numbers: [0, -1, 1.5, 1e21, Number.MAX_SAFE_INTEGER],
    };
    const metadata = { 'tenant.id': 't-1', $trace: '00-abc', correlationId: 'ünï' };
    await store().append(streamId, [event('Unicode✓', data, metadata)], {
      expectedVersion: 'no-stream',
    });
    const [read] = await store().readStream(streamId);
    expect(read?.type).toBe('Unicode✓');
    expect(read?.streamId).toBe(streamId);
    expect(read?.data).toEqual(data);
    expect(read?.metadata).toMatchObject(metadata);
  });

  it('gives every read events of its own: a reader changing one changes no later read', async () => {
    const streamId = uniqueName('own-copy');
    const type = uniqueName('Own');
    const written = event(type, { n: 1 }, { correlationId: 'c-1' });
    const { positions } = await store().append(streamId, [written], {
      expectedVersion: 'no-stream',
    });
    const reads = [
      () => store().readStream(streamId),
      () => store().readAll({ fromPosition: (positions[0] ?? 1) - 1, types: [type] }),
    ];
    for (const read of reads) {
      const [first] = await read();
      // A handler that annotates or strips what it read (metadata, data).
      const metadata = first!.metadata as Record<string, unknown>;
      metadata.correlationId = 'changed';
      delete metadata.checksum;
      (first!.data as { n: number }).n = 2;
    }
    for (const read of reads) {
      const [again] = await read();
      expect(again?.data).toEqual({ n: 1 });
      expect(again?.metadata).toMatchObject({ correlationId: 'c-1' });
      expect(again?.metadata.checksum).toMatch(/^sha256:/);
    }
    // Nor does changing the envelope appended, after the append.
    (written.metadata as Record<string, unknown>).correlationId = 'changed later';
    await expect(store().readStream(streamId)).resolves.toMatchObject([
      { metadata: { correlationId: 'c-1' } },
    ]);
  });

  it('refuses to read an event whose stored data no longer matches its checksum', async () => {
    const streamId = uniqueName('corrupt');
    const type = uniqueName('Corrupt');
    const written = [event(type, { n: 1 }), event(type, { n: 2 }), event(type, { n: 3 })];
    const result = await store().append(streamId, written, { expectedVersion: 'no-stream' });
    await context.harness().corrupt(streamId, 2);
    const error = await store()
      .readStream(streamId)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect(error).toMatchObject({ messageId: written[1]?.messageId });
    await expect(
      store().readAll({ fromPosition: (result.positions[0] ?? 1) - 1, types: [type] }),
    ).rejects.toBeInstanceOf(ChecksumMismatchError);
    // The intact events stay readable around it.
    expect((await store().readStream(streamId, { toVersion: 1 })).map((e) => e.data)).toEqual([
      { n: 1 },
    ]);
    expect((await store().readStream(streamId, { fromVersion: 3 })).map((e) => e.data)).toEqual([
      { n: 3 },
    ]);
    await store().deleteStream(streamId, { mode: 'hard' });
  });

  it('refuses an oversized event before writing anything of its append', async () => {
    const streamId = uniqueName('oversized');
    const huge = event('Huge', { blob: 'y'.repeat(4 * 1024 * 1024) });
    const error = await store()
      .append(streamId, [event('Fine', 1), huge], { expectedVersion: 'no-stream' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect(error).toMatchObject({ messageId: huge.messageId, streamId });
    // Which append and which of its events: the stream and the index in the batch.
    expect((error as Error).message).toContain(
      `(append to stream ${streamId}: events[1], message ${huge.messageId})`,
    );
    expect(await store().readStream(streamId)).toEqual([]);
    // The limit is on UTF-8 bytes, not characters: 600 000 '€' are 1.8 MB, over the default
    // 1.5 MiB, in fewer characters than the limit has bytes.
    const euros = event('Euros', { text: '€'.repeat(600_000) });
    await expect(
      store().append(streamId, [event('Fine', 1), euros], { expectedVersion: 'no-stream' }),
    ).rejects.toMatchObject({ name: 'MessageTooLargeError', messageId: euros.messageId });
    expect(await store().readStream(streamId)).toEqual([]);
    await expect(store().streamInfo(streamId)).resolves.toMatchObject({
      version: 0,
      state: 'missing',
    });
  });

  it('counts data as escaped again in the envelope: 1 MB of quotes and backslashes is refused, 380 000 are stored', async () => {
    // The wire form (and the Redis record) is the envelope as JSON, data being JSON text already:
    // a quote or backslash of a string is 4 bytes there (`\\\"`), so 1 MB of them is ~4 MB.
    const streamId = uniqueName('escaped');
    const quoted = event('Quoted', { text: '"\\'.repeat(500_000) });
    const error = await store()
      .append(streamId, [event('Fine', 1), quoted], { expectedVersion: 'no-stream' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect(error).toMatchObject({ messageId: quoted.messageId, maxBytes: 1.5 * 1024 * 1024 });
    expect((error as Error).message).toMatch(/maxMessageBytes/);
    expect(await store().readStream(streamId)).toEqual([]);
    // What the default limit takes of them: 1.52 MB on the wire, under 1.5 MiB.
    const text = '"\\'.repeat(190_000);
    await store().append(streamId, [event('Quoted', { text })], { expectedVersion: 'no-stream' });
    const [read] = await store().readStream(streamId);
    expect((read?.data as { text: string }).text).toBe(text);
  });

  it('counts metadata against the size limit: megabytes of it are refused before anything is written', async () => {
    const streamId = uniqueName('heavy-metadata');
    const heavy = event('Small', 2, { note: 'm'.repeat(2 * 1024 * 1024) });
    const error = await store()
      .append(streamId, [event('Fine', 1), heavy], { expectedVersion: 'no-stream' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect(error).toMatchObject({ messageId: heavy.messageId });
    expect((error as Error).message).toMatch(/maxMessageBytes/);
    expect(await store().readStream(streamId)).toEqual([]);
    await expect(store().streamInfo(streamId)).resolves.toMatchObject({
      version: 0,
      state: 'missing',
    });
  });

  it('writes nothing of a multi-event append when one event fails validation', async () => {
    const streamId = uniqueName('invalid');
    await store().append(streamId, [event('Valid', 0)], { expectedVersion: 'no-stream' });
    const attempt = store().append(
      streamId,
      [event('Valid', 1), event('Valid', 2), event('Invalid', { n: BigInt(3) })],
      {
        expectedVersion: 1,
      },
    );
    await expect(attempt).rejects.toBeInstanceOf(MessageValidationError);
    expect((await store().readStream(streamId)).map((e) => e.data)).toEqual([0]);
    await expect(
      store().append(streamId, [event('Valid', 1)], { expectedVersion: 1 }),
    ).resolves.toMatchObject({ nextExpectedVersion: 2 });
  });

  it('refuses an append that holds one messageId twice, naming it, and writes nothing', async () => {
    const streamId = uniqueName('twice');
    const [a, b] = [event('Twice', 'a'), event('Twice', 'b')];
    const again = { ...a, data: 'a again' };
    const error = await store()
      .append(streamId, [a, b, again], { expectedVersion: 'no-stream' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(MessageValidationError);
    expect(error).toMatchObject({ field: 'messageId', streamId });
    expect((error as Error).message).toContain(a.messageId);
    expect((error as Error).message).toContain(
      `appears twice in one append to stream ${streamId} (events 0 and 2)`,
    );
    expect(await store().readStream(streamId)).toEqual([]);
    await expect(
      store().append(streamId, [a, b], { expectedVersion: 'no-stream' }),
    ).resolves.toMatchObject({ nextExpectedVersion: 2 });
  });

  it('passes serializer errors through: validation on append, unknown types on read', async () => {
    const registry = new SerializerRegistry().register(
      'Deposited',
      z.object({ amount: z.number().positive() }),
    );
    const typed = await context.harness().connect({ serializer: registry });
    const streamId = uniqueName('registry');
    await typed.append(streamId, [event('Deposited', { amount: 5 })], {
      expectedVersion: 'no-stream',
    });
    const negative = event('Deposited', { amount: -1 });
    const invalid = await typed
      .append(streamId, [event('Deposited', { amount: 1 }), negative], {
        expectedVersion: 1,
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(invalid).toBeInstanceOf(MessageValidationError);
    expect(invalid).toMatchObject({
      type: 'Deposited',
      field: 'amount',
      streamId,
      messageId: negative.messageId,
    });
    // The second event of the batch is the invalid one: the error says which, and where to.
    expect((invalid as Error).message).toMatch(/^Invalid Deposited: amount /);
    expect((invalid as Error).message).toContain(
      `(append to stream ${streamId}: events[1], message ${negative.messageId})`,
    );
    expect((await typed.readStream(streamId)).map((e) => e.data)).toEqual([{ amount: 5 }]);

    // Written by a store that accepts any type, read by one whose registry does not know it.
    await store().append(streamId, [event('Mystery', { secret: true })], { expectedVersion: 1 });
    const unknown = await typed.readStream(streamId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(unknown).toBeInstanceOf(UnknownMessageTypeError);
    expect(unknown).toMatchObject({ type: 'Mystery' });
    await expect(typed.readStream(streamId, { toVersion: 1 })).resolves.toHaveLength(1);
  });

  it('upcasts events written by an older schema version on read (v1 → v2 → v3)', async () => {
    const streamId = uniqueName('upcast');
    // Yesterday's service wrote v1: a single name.
    const v1 = new SerializerRegistry().register(
      'TrainerRegistered',
      z.object({ name: z.string() }),
    );
    const writer = await context.harness().connect({ serializer: v1 });
    await writer.append(streamId, [event('TrainerRegistered', { name: 'Ash Ketchum' })], {
      expectedVersion: 'no-stream',
    });
    // Today's reads v3: v2 split the name, v3 added a region with a default.
    const v3 = new SerializerRegistry()
      .register(
        'TrainerRegistered',
        z.object({ firstName: z.string(), lastName: z.string(), region: z.string() }),
        { version: 3 },
      )
      .upcaster('TrainerRegistered', 1, (data) => {
        const [firstName = '', ...rest] = (data as { name: string }).name.split(' ');
        return { firstName, lastName: rest.join(' ') };
      })
      .upcaster('TrainerRegistered', 2, (data) => ({ ...(data as object), region: 'Kanto' }));
    const reader = await context.harness().connect({ serializer: v3 });
    await reader.append(
      streamId,
      [event('TrainerRegistered', { firstName: 'Gary', lastName: 'Oak', region: 'Johto' })],
      { expectedVersion: 1 },
    );
    const events = await reader.readStream(streamId);
    expect(events.map((e) => e.data)).toEqual([
      { firstName: 'Ash', lastName: 'Ketchum', region: 'Kanto' },
      { firstName: 'Gary', lastName: 'Oak', region: 'Johto' },
    ]);
    expect(events.map((e) => e.metadata.schemaVersion)).toEqual([3, 3]);
    const all = (await reader.readAll({ types: ['TrainerRegistered'] })).filter(
      (e) => e.streamId === streamId,
    );
    expect(all[0]?.data).toEqual({ firstName: 'Ash', lastName: 'Ketchum', region: 'Kanto' });
    // A catch-up subscription reads through the same serializer: its handler sees v3 too.
    const delivered: StoredEvent[] = [];
    const subscription = reader.subscribe({
      fromPosition: (all[0]?.position ?? 1) - 1,
      types: ['TrainerRegistered'],
      handler: (e) => {
        if (e.streamId === streamId) delivered.push(e);
      },
    });
    await waitFor(() => delivered.length >= 2);
    await subscription.stop();
    expect(delivered.map((e) => [e.data, e.metadata.schemaVersion])).toEqual([
      [{ firstName: 'Ash', lastName: 'Ketchum', region: 'Kanto' }, 3],
      [{ firstName: 'Gary', lastName: 'Oak', region: 'Johto' }, 3],
    ]);
  });

  it('reads events stored under a former type name as the renamed type, in type filters too', async () => {
    const streamId = uniqueName('rename');
    const before = uniqueName('BadgeWon');
    const after = uniqueName('BadgeEarned');
    // Yesterday's service wrote the old name.
    const yesterday = await context.harness().connect({
      serializer: new SerializerRegistry().register(before, z.object({ badge: z.string() })),
    });
    await yesterday.append(streamId, [event(before, { badge: 'Boulder' })], {
      expectedVersion: 'no-stream',
    });
    // Today's knows the type by its new name only, and writes that.
    const today = await context.harness().connect({
      serializer: new SerializerRegistry()
        .register(after, z.object({ badge: z.string() }))
        .formerNames(after, before),
    });
    await today.append(streamId, [event(after, { badge: 'Cascade' })], { expectedVersion: 1 });
    const read = await today.readStream(streamId);
    expect(read.map((e) => [e.type, e.data])).toEqual([
      [after, { badge: 'Boulder' }],
      [after, { badge: 'Cascade' }],
    ]);
    const filtered = await today.readAll({ types: [after] });
    expect(filtered.map((e) => [e.streamId, e.version, e.type])).toEqual([
      [streamId, 1, after],
      [streamId, 2, after],
    ]);
    // A filter on the old name finds them too (it names the same type).
    expect(await today.readAll({ types: [before] })).toHaveLength(2);
  });
}
