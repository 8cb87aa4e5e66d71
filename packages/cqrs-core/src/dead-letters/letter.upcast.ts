import { checksumOf } from '../messages/checksum';
import { type Envelope } from '../messages/envelope';
import { type MessageSerializer, type SerializedEnvelope } from '../messages/serializer.port';

/**
 * A dead letter's envelope could not be read at the current schema version of its type (an
 * upcaster missing or failing, data the current schema refuses, a version newer than this
 * release knows). The letter stays; a replay reports it in `failed`.
 */
export class DeadLetterUpcastError extends Error {
  constructor(
    readonly type: string,
    readonly schemaVersion: number,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(
      `the letter was written at schema version ${schemaVersion} of ${type} and cannot be ` +
        `read at the version of this release: ${why}`,
      { cause },
    );
    this.name = 'DeadLetterUpcastError';
  }
}

/**
 * A letter's envelope as this release reads it: serialized as it was dead-lettered (its data as
 * JSON, a fresh checksum, the schemaVersion it claims: it came out of a deserialize, so its
 * version is authoritative), then `serializer.deserialize`d — upcast to the current version of
 * its type (and under its current name) and validated. A publisher would otherwise take the old
 * data as current (`serialize` stamps its version on data claiming an older one) and refuse it.
 * The envelope as it is when the serializer does not know its type (`has`): the publisher's
 * serializer decides then.
 * @throws DeadLetterUpcastError naming the version it was written at and what failed
 */
export function upcastLetterEnvelope(envelope: Envelope, serializer: MessageSerializer): Envelope {
  if (serializer.has && !serializer.has(envelope.type)) return envelope;
  const schemaVersion = envelope.metadata.schemaVersion ?? 1;
  try {
    const data = JSON.stringify(envelope.data);
    const serialized: SerializedEnvelope = {
      ...envelope,
      data,
      metadata: { ...envelope.metadata, checksum: checksumOf(data), schemaVersion },
    };
    return serializer.deserialize(serialized);
  } catch (error) {
    throw new DeadLetterUpcastError(envelope.type, schemaVersion, error);
  }
}
