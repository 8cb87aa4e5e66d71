import { createRequire } from 'node:module';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { decompress as zstdDecompress } from 'fzstd';

/** kafkajs's codec contract: `encoder.buffer` holds the record bytes to compress. */
interface KafkaCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

interface Lz4js {
  decompress(src: Uint8Array): Uint8Array | number[];
}

// Untyped CommonJS packages (no @types): loaded through require with the shape we use.
const load = createRequire(__filename);

/** LZ4 frame flag: every block is followed by a checksum (lz4js 0.2 reads it in the wrong place). */
const LZ4_BLOCK_CHECKSUM = 0x10;
const LZ4_MAGIC = 0x184d2204;

/** Causeway's producers send uncompressed batches: it decodes these codecs, never encodes them. */
function readOnly(codec: string): KafkaCodec['compress'] {
  return () =>
    Promise.reject(
      new Error(`Causeway reads ${codec} record batches but does not write them (no compressor)`),
    );
}

/**
 * LZ4 frames (what Kafka's Java clients, the broker and librdkafka write: 64 KB independent
 * blocks, no block checksums) through lz4js, pure JavaScript. A frame with block checksums is
 * refused with a clear error rather than decoded wrongly. lz4js's own frames are not used to
 * write: Kafka refuses them (no block-independence flag).
 */
function lz4Codec(): KafkaCodec {
  const lz4 = load('lz4js') as Lz4js;
  return {
    compress: readOnly('lz4'),
    decompress: async (buffer) => {
      if (buffer.length >= 5 && buffer.readUInt32LE(0) === LZ4_MAGIC) {
        if ((buffer[4]! & LZ4_BLOCK_CHECKSUM) !== 0)
          throw new Error('LZ4 frames with block checksums are not supported');
      }
      return Buffer.from(lz4.decompress(buffer));
    },
  };
}

/** Zstandard frames through fzstd, a pure JavaScript decompressor. */
function zstdCodec(): KafkaCodec {
  return {
    compress: readOnly('zstd'),
    decompress: async (buffer) => Buffer.from(zstdDecompress(buffer)),
  };
}

let registered = false;

/**
 * Registers decoders for every compression Kafka may put in a record batch, once per process
 * (idempotent). kafkajs ships gzip only; without the others, a single snappy, lz4 or zstd batch —
 * written by another client, or by the broker itself when a topic's `compression.type` says so —
 * fails every fetch of the consumer that meets it, and no partition of that fetch progresses.
 *
 * - snappy: kafkajs-snappy (snappyjs, pure JavaScript; reads the xerial framing of Java clients)
 * - lz4: lz4js (pure JavaScript, LZ4 frame format), decompression only
 * - zstd: fzstd (pure JavaScript), decompression only
 *
 * Compressing with lz4 or zstd (a kafkajs producer with `compression` set) rejects, naming it.
 *
 * A codec already registered by the application is kept.
 */
export function registerKafkaCodecs(): void {
  if (registered) return;
  registered = true;
  const codecs = CompressionCodecs as Record<number, (() => unknown) | undefined>;
  const snappy = load('kafkajs-snappy') as () => KafkaCodec;
  const ours: [CompressionTypes, () => KafkaCodec][] = [
    [CompressionTypes.Snappy, snappy],
    [CompressionTypes.LZ4, lz4Codec],
    [CompressionTypes.ZSTD, zstdCodec],
  ];
  for (const [type, codec] of ours) if (!usable(codecs[type])) codecs[type] = codec;
}

/** kafkajs's placeholders for the codecs it lacks throw KafkaJSNotImplemented when looked up. */
function usable(codec: (() => unknown) | undefined): boolean {
  try {
    return codec !== undefined && codec() !== undefined;
  } catch {
    return false;
  }
}
