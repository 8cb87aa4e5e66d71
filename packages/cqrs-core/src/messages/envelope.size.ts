import { shownValue } from '../config/shown-value';
import { MessageTooLargeError, MessageValidationError } from './message.errors';
import { type SerializedEnvelope } from './serializer.port';

/**
 * Refuses a serializer's `maxMessageBytes` that is not a positive number (Infinity: no limit):
 * NaN or a string (a value read from the environment) made every size comparison false, lifting
 * the limit silently, and 0 or a negative one refused every message at the first write.
 * @throws TypeError naming `owner`'s options.maxMessageBytes and the value
 */
export function checkMaxMessageBytes(owner: string, max: unknown): void {
  if (max !== undefined && !(typeof max === 'number' && max > 0))
    throw new TypeError(
      `${owner}: options.maxMessageBytes must be a positive number of bytes (Infinity for no limit), got ${shownValue(max)}`,
    );
}

/**
 * Refuses `serialized` when the JSON text of its envelope fields — data (the serialized string),
 * metadata, ids: what a store keeps and a transport sends — is over `maxBytes` UTF-8 bytes.
 * The data string is escaped a second time in that text, on purpose: the publishers' wire form
 * (encodeForWire) and the Redis store's record hold it so, and a quote or backslash of a string
 * in the data takes 4 bytes there, a newline 3.
 * Counting data alone let megabytes of metadata through, and a store then kept events no
 * publisher would take. Fields beyond the envelope's (a stored event's streamId and position)
 * are not counted. Publishing serializes again without this check (encodeForWire): what a store
 * accepted may have gained fields since (a TracedPublisher's trace context), and the publishers'
 * own limit (DEFAULT_MAX_WIRE_BYTES by default) leaves room for them.
 * Only an envelope that may be over the limit is measured: data is JSON text already (no control
 * characters, no lone surrogates), so escaping it again makes each character at most 2 bytes,
 * 3 for non-ASCII, and `3 × length` bounds the bytes.
 * @throws MessageTooLargeError naming the limit; MessageValidationError when metadata is not JSON
 */
export function checkEnvelopeSize(serialized: SerializedEnvelope, maxBytes: number): void {
  if (maxBytes === Infinity) return;
  const { messageId, type, aggregateId, aggregateType, version, data, metadata } = serialized;
  const counted = { messageId, type, aggregateId, aggregateType, version, data, metadata };
  let rest: string;
  try {
    rest = JSON.stringify({ ...counted, data: '' });
  } catch (error) {
    throw new MessageValidationError(
      serialized.type,
      'metadata',
      `is not JSON-serializable: ${String(error)}`,
    );
  }
  if ((rest.length + data.length) * 3 <= maxBytes) return;
  const size = Buffer.byteLength(JSON.stringify(counted), 'utf8');
  if (size > maxBytes) throw new MessageTooLargeError(messageId, size, maxBytes);
}
