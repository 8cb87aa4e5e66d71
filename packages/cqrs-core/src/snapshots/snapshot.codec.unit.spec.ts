import { SnapshotCodec } from './snapshot.codec';

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
