import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { registerKafkaCodecs } from './kafka.codecs';

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}
const codecs = CompressionCodecs as Record<number, () => Codec>;
const codec = (type: CompressionTypes) => codecs[type]!();

/** An LZ4 frame of one uncompressed block holding `text`, with frame flags `flg`. */
function lz4Frame(text: string, flg = 0x60): Buffer {
  const data = Buffer.from(text);
  const size = Buffer.alloc(4);
  size.writeUInt32LE((0x80000000 | data.length) >>> 0);
  return Buffer.concat([
    Buffer.from([0x04, 0x22, 0x4d, 0x18, flg, 0x40, 0x00]), // magic, FLG, BD (64 KB), HC
    size,
    data,
    Buffer.alloc(4), // end mark
  ]);
}

/** A zstd frame of one raw block holding `text` (single segment, 1-byte content size). */
function zstdFrame(text: string): Buffer {
  const data = Buffer.from(text);
  const block = (data.length << 3) | 1; // last block, raw
  return Buffer.concat([
    Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, data.length]),
    Buffer.from([block & 0xff, (block >> 8) & 0xff, (block >> 16) & 0xff]),
    data,
  ]);
}

describe('registerKafkaCodecs', () => {
  const kafkajsOwn = { ...codecs };
  afterEach(() => Object.assign(codecs, kafkajsOwn));

  it('kafkajs alone cannot decode snappy, lz4 or zstd', () => {
    for (const type of [CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD])
      expect(() => codec(type)).toThrow(/not implemented/);
  });

  it('decodes snappy, lz4 and zstd once registered; lz4 and zstd are read-only', async () => {
    registerKafkaCodecs();
    registerKafkaCodecs(); // idempotent
    const snappy = codec(CompressionTypes.Snappy);
    const packed = await snappy.compress({ buffer: Buffer.from('hello snappy') });
    expect((await snappy.decompress(packed)).toString()).toBe('hello snappy');
    const lz4 = codec(CompressionTypes.LZ4);
    expect((await lz4.decompress(lz4Frame('hello lz4'))).toString()).toBe('hello lz4');
    await expect(lz4.decompress(lz4Frame('x', 0x70))).rejects.toThrow(/block checksums/);
    await expect(lz4.compress({ buffer: Buffer.from('x') })).rejects.toThrow(/reads lz4/);
    const zstd = codec(CompressionTypes.ZSTD);
    expect((await zstd.decompress(zstdFrame('hello zstd'))).toString()).toBe('hello zstd');
    await expect(zstd.compress({ buffer: Buffer.from('x') })).rejects.toThrow(/reads zstd/);
  });
});
