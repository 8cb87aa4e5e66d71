/**
 * The two kinds of poison (messages a subscriber could not decode), told apart by the errorName
 * of their dead letter:
 * - not understood (`NotUnderstoodMessageError`): a well-formed envelope (its checksum holds and
 *   its data is JSON) that this consumer cannot read: of a type, or a schema version, it does not
 *   know — typically published by the next release during a rolling deploy — or whose data fails
 *   its schema here (MessageValidationError: a release changed a schema without bumping its
 *   version, or an upcaster is wrong). Replayable as its raw text once the consumer accepts it.
 * - malformed (`UndecodableMessageError`): not JSON, not an envelope, a checksum mismatch, data
 *   that is not JSON. No deploy makes it readable: never replayable.
 */
export const NOT_UNDERSTOOD = 'NotUnderstoodMessageError';
export const MALFORMED = 'UndecodableMessageError';

/** The handler name of poison letters. */
export const DECODER = '(decoder)';

/**
 * Errors of a serializer that a newer (or fixed) consumer would not raise. A poison reason starts
 * with the error's name (decodeFromWire: `<name>: <message>`).
 */
const NOT_UNDERSTOOD_ERRORS = [
  'UnknownMessageTypeError',
  'UnsupportedSchemaVersionError',
  'MissingUpcasterError',
  'MessageValidationError',
];

/** The wire form of an envelope (data still text), or undefined when `raw` is not one. */
export interface WireEnvelope {
  messageId: string;
  type: string;
  data: string;
  metadata: Record<string, unknown>;
  [field: string]: unknown;
}

/** `raw` as the envelope it is on the wire (JSON with messageId, type, data and metadata). */
export function parseWireEnvelope(raw: string | undefined): WireEnvelope | undefined {
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const candidate = parsed as Record<string, unknown>;
  const metadata = candidate.metadata;
  if (
    typeof candidate.messageId !== 'string' ||
    typeof candidate.type !== 'string' ||
    typeof candidate.data !== 'string' ||
    typeof metadata !== 'object' ||
    metadata === null ||
    Array.isArray(metadata)
  )
    return undefined;
  return candidate as WireEnvelope;
}

/** The errorName of a poison letter: NOT_UNDERSTOOD or MALFORMED (see above). */
export function poisonErrorName(raw: string, reason: string): string {
  return understandableLater(raw, reason) ? NOT_UNDERSTOOD : MALFORMED;
}

/**
 * Whether a letter is poison that was not understood yet, so replayable as its raw text. Judged
 * by its raw text and reason, not only its errorName: letters stored before errorName told the
 * kinds apart (all `UndecodableMessageError`) are recognised too.
 */
export function isNotUnderstood(letter: {
  handler: string;
  raw?: string;
  reason: string;
}): boolean {
  return (
    letter.handler === DECODER &&
    letter.raw !== undefined &&
    understandableLater(letter.raw, letter.reason)
  );
}

function understandableLater(raw: string, reason: string): boolean {
  const cause = reason.slice(0, reason.indexOf(':'));
  if (!NOT_UNDERSTOOD_ERRORS.includes(cause)) return false;
  const wire = parseWireEnvelope(raw);
  if (wire === undefined) return false;
  // Data that is not JSON at all fails validation too; no schema change makes it readable.
  return cause !== 'MessageValidationError' || isJson(wire.data);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
