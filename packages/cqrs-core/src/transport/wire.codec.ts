import { type Envelope } from '../messages/envelope';
import { type MessageSerializer, type SerializedEnvelope } from '../messages/serializer.port';

/**
 * The bytes a transport puts on the wire: the serialized envelope as one JSON text. The data
 * stays the exact string the serializer produced, so the checksum verifies on the other side.
 * The serializer's size limit is not applied here: the caller checks its own wire limit on the
 * result (DEFAULT_MAX_WIRE_BYTES by default, room above the serializer's). An event a store
 * accepted under the serializer's limit and that gained trace fields since (TracedPublisher) was
 * otherwise refused for good at publish.
 */
export function encodeForWire(serializer: MessageSerializer, envelope: Envelope): string {
  return JSON.stringify(serializer.serialize(envelope, { maxMessageBytes: Infinity }));
}

/** Thrown when received bytes cannot become an envelope; the message goes to dead letters. */
export class UndecodableMessageError extends Error {
  constructor(readonly reason: string) {
    super(`Undecodable message: ${reason}`);
    this.name = 'UndecodableMessageError';
  }
}

/** Parses and deserializes (checksum, upcasting, schema). Throws UndecodableMessageError with the reason. */
export function decodeFromWire(serializer: MessageSerializer, raw: string): Envelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new UndecodableMessageError(`not JSON (${(error as Error).message})`);
  }
  if (!isSerializedEnvelope(parsed))
    throw new UndecodableMessageError('not an envelope (messageId, type, data, metadata)');
  try {
    return serializer.deserialize(parsed);
  } catch (error) {
    throw new UndecodableMessageError(`${(error as Error).name}: ${(error as Error).message}`);
  }
}

function isSerializedEnvelope(value: unknown): value is SerializedEnvelope {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.messageId === 'string' &&
    typeof candidate.type === 'string' &&
    typeof candidate.data === 'string' &&
    typeof candidate.metadata === 'object' &&
    candidate.metadata !== null
  );
}
