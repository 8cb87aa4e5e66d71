import { checksumMatches, checksumOf } from './checksum';
import { type Envelope } from './envelope';
import { checkEnvelopeSize, checkMaxMessageBytes } from './envelope.size';
import { ChecksumMismatchError, MessageValidationError } from './message.errors';
import {
  type MessageSerializer,
  type SerializedEnvelope,
  type SerializeOptions,
} from './serializer.port';

/**
 * Default upper bound of one serialized envelope — data, metadata and ids as JSON text, what a
 * store keeps and a transport sends: 1.5 MiB. The data is JSON text already and is escaped again
 * in that envelope, as on the wire: a payload of plain text fits up to about 1.5 MB, but each
 * quote or backslash of its strings counts 4 bytes and each newline or tab 3, so 1 MB of quotes
 * and backslashes is refused (about 390 000 fit).
 * Publishers take {@link DEFAULT_MAX_WIRE_BYTES} by default, so whatever a store accepted can be
 * published.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 1.5 * 1024 * 1024;

/**
 * Default limit of the publishers (Redis Streams, Kafka, in-memory) on a message's wire form:
 * {@link DEFAULT_MAX_MESSAGE_BYTES} and 64 KiB for what a store adds to an event it publishes
 * (streamId, position).
 */
export const DEFAULT_MAX_WIRE_BYTES = DEFAULT_MAX_MESSAGE_BYTES + 64 * 1024;

export interface JsonSerializerOptions {
  /**
   * Largest serialized envelope (data, metadata and ids as JSON text) in UTF-8 bytes. Default
   * {@link DEFAULT_MAX_MESSAGE_BYTES}; Infinity: none. Anything but a positive number is a
   * TypeError naming it.
   */
  maxMessageBytes?: number;
}

/**
 * The schema-less default serializer: `JSON.stringify` / `JSON.parse`, a sha256 checksum of the
 * serialized data verified on read, and a size limit on the serialized envelope (data and
 * metadata) enforced before anything is written.
 * It knows no types, so it never throws UnknownMessageTypeError and never upcasts; use the
 * serializer registry when types must be validated.
 *
 * Hazard: JSON drops `undefined`, turns `Date` into a string and cannot hold `BigInt` or cycles
 * (the latter two are refused with MessageValidationError).
 */
export class JsonSerializer implements MessageSerializer {
  readonly maxMessageBytes: number;

  constructor(options: JsonSerializerOptions = {}) {
    checkMaxMessageBytes('JsonSerializer', options.maxMessageBytes);
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  serialize(envelope: Envelope, options: SerializeOptions = {}): SerializedEnvelope {
    let data: string | undefined;
    try {
      data = JSON.stringify(envelope.data);
    } catch (error) {
      throw new MessageValidationError(
        envelope.type,
        '',
        `is not JSON-serializable: ${String(error)}`,
      );
    }
    if (data === undefined) {
      throw new MessageValidationError(envelope.type, '', 'is not JSON-serializable');
    }
    const serialized: SerializedEnvelope = {
      ...envelope,
      data,
      metadata: {
        ...envelope.metadata,
        checksum: checksumOf(data),
        schemaVersion: envelope.metadata.schemaVersion ?? 1,
      },
    };
    checkEnvelopeSize(serialized, options.maxMessageBytes ?? this.maxMessageBytes);
    return serialized;
  }

  deserialize(serialized: SerializedEnvelope): Envelope {
    const { checksum } = serialized.metadata;
    if (!checksumMatches(serialized.data, checksum)) {
      throw new ChecksumMismatchError(serialized.messageId, checksum, checksumOf(serialized.data));
    }
    return { ...serialized, data: JSON.parse(serialized.data) as unknown };
  }
}
