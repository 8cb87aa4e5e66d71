import { jsonSnapshotSerializer, SnapshotCodec } from './snapshot.codec';

describe('SnapshotCodec', () => {
  const large = {
    items: Array.from({ length: 500 }, (_, i) => ({ i, name: 'the same words again' })),
  };

  it('refuses an unknown compression or a bad threshold when built, naming the option', () => {
    expect(
      () => new SnapshotCodec({ compression: 'zstd' as unknown as 'gzip', compressAboveBytes: 10 }),
    ).toThrow(new TypeError(`compression must be 'gzip', 'br' or 'none', got "zstd"`));
    expect(() => new SnapshotCodec({ compressAboveBytes: -1 })).toThrow(
      'compressAboveBytes must be a non-negative integer, got -1',
    );
  });

  it('leaves small states uncompressed and compresses large ones', async () => {
    const codec = new SnapshotCodec({ compressAboveBytes: 100 });
    expect((await codec.encode({ a: 1 })).encoding).toBe('identity');
    const encoded = await codec.encode(large);
    expect(encoded.encoding).toBe('gzip');
    expect(encoded.payload.length).toBeLessThan(encoded.rawBytes);
    await expect(codec.decode(encoded.payload, encoded.encoding)).resolves.toEqual(large);
  });

  it('compresses a 5 MB state with brotli in well under a second, smaller than gzip', async () => {
    const state = {
      items: Array.from({ length: 60_000 }, (_, i) => ({
        id: `item-${i}`,
        name: `Name ${i % 977}`,
        qty: i % 13,
        price: ((i * 7919) % 10_007) / 100,
      })),
    };
    // CPU time this process spent (the zlib work runs on its thread pool, which counts), not
    // wall-clock time: other processes on a loaded machine stretch the latter, never the former.
    const cpu = process.cpuUsage();
    const br = await new SnapshotCodec({ compression: 'br' }).encode(state);
    const { user, system } = process.cpuUsage(cpu);
    const tookMs = (user + system) / 1_000;
    const gzip = await new SnapshotCodec({ compression: 'gzip' }).encode(state);
    expect(br.encoding).toBe('br');
    expect(tookMs).toBeLessThan(1_500); // quality 11: ~9 s of CPU here
    expect(br.payload.length).toBeLessThan(gzip.payload.length);
  });

  it("stores a payload as is when compression would not shrink it, and never compresses with 'none'", async () => {
    // gzip and brotli headers alone outweigh a 7-byte payload.
    for (const compression of ['gzip', 'br'] as const) {
      const encoded = await new SnapshotCodec({ compressAboveBytes: 1, compression }).encode({
        a: 1,
      });
      expect(encoded).toMatchObject({ encoding: 'identity', rawBytes: 7 });
      expect(encoded.payload.toString()).toBe('{"a":1}');
    }
    expect(
      (await new SnapshotCodec({ compression: 'none', compressAboveBytes: 0 }).encode(large))
        .encoding,
    ).toBe('identity');
    expect(
      (await new SnapshotCodec({ compression: 'br', compressAboveBytes: 0 }).encode(large))
        .encoding,
    ).toBe('br');
  });

  it('refuses a state its serializer gives no text for, naming the serializer', async () => {
    // It used to fail inside Buffer.from: "The first argument must be of type string …".
    const codec = new SnapshotCodec({
      serializer: { serialize: () => undefined as never, deserialize: (t) => t },
    });
    await expect(codec.encode({ a: 1 })).rejects.toThrow(
      new TypeError('the snapshot serializer returned undefined, not a string: nothing was saved'),
    );
  });

  it('uses a pluggable serializer and rejects unknown encodings and corrupt payloads', async () => {
    const codec = new SnapshotCodec({
      serializer: {
        serialize: (s) => `v1|${JSON.stringify(s)}`,
        deserialize: (t) => JSON.parse(t.slice(3)),
      },
    });
    const encoded = await codec.encode({ a: 1 });
    expect(encoded.payload.toString()).toBe('v1|{"a":1}');
    await expect(codec.decode(encoded.payload, 'identity')).resolves.toEqual({ a: 1 });
    await expect(codec.decode(encoded.payload, 'zstd')).rejects.toThrow(/unknown encoding/);
    await expect(codec.decode(Buffer.from('not gzip'), 'gzip')).rejects.toThrow();
  });
});

describe('jsonSnapshotSerializer', () => {
  it('round-trips plain state, leaving undefined properties out as JSON does', () => {
    const state = { a: [1, 'é', { b: null, c: true }], d: undefined, 'e f': { g: -0.5 } };
    const text = jsonSnapshotSerializer.serialize(state);
    expect(jsonSnapshotSerializer.deserialize(text)).toEqual({
      a: [1, 'é', { b: null, c: true }],
      'e f': { g: -0.5 },
    });
    const bare = Object.assign(Object.create(null) as object, { x: 1 });
    expect(jsonSnapshotSerializer.serialize(bare)).toBe('{"x":1}');
  });

  it.each([
    [{ openedAt: new Date(0) }, 'snapshot state at .openedAt is a Date'],
    [{ tags: new Map([['a', 1]]) }, 'snapshot state at .tags is a Map'],
    [{ list: [1, { seen: new Set([1]) }] }, 'snapshot state at .list[1].seen is a Set'],
    [{ 'a b': { n: Number.NaN } }, 'snapshot state at ["a b"].n is NaN'],
    [{ total: Infinity }, 'snapshot state at .total is Infinity'],
    [{ onChange: () => 1 }, 'snapshot state at .onChange is a function'],
    [new (class Account {})(), 'snapshot state is a Account'],
    [{ slots: [1, undefined, 3] }, 'snapshot state at .slots[1] is undefined'],
    [{ n: 10n }, 'snapshot state at .n is a bigint'],
  ])('refuses state JSON would load as something else, naming where: %p', (state, message) => {
    expect(() => jsonSnapshotSerializer.serialize(state)).toThrow(TypeError);
    expect(() => jsonSnapshotSerializer.serialize(state)).toThrow(message);
  });

  it('refuses an undefined state (an aggregate whose snapshotState returns nothing), saying so', async () => {
    expect(() => jsonSnapshotSerializer.serialize(undefined)).toThrow(
      /^snapshot state is undefined, which JSON would load back as something else/,
    );
    await expect(new SnapshotCodec().encode(undefined)).rejects.toThrow(
      /^snapshot state is undefined/,
    );
  });

  it('refuses a cyclic state at once, not by walking it forever', () => {
    const state: Record<string, unknown> = { balance: 1 };
    state.self = state;
    expect(() => jsonSnapshotSerializer.serialize(state)).toThrow(/circular/);
    const list: unknown[] = [];
    list.push({ list });
    expect(() => jsonSnapshotSerializer.serialize({ list })).toThrow(/circular/);
  });
});
