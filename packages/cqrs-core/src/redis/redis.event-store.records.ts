import { type SerializedEnvelope } from '../messages/serializer.port';

/**
 * The stored form of one event (the value in `P:events`): the serialized envelope with its
 * stream. Its position is the hash field it is stored under.
 */
export interface RedisEventRecord extends SerializedEnvelope {
  readonly streamId: string;
}

/**
 * The record's JSON as append sends it. Key order is part of the format: `version` comes first
 * (APPEND_SCRIPT rewrites that prefix when the head differs from the one the record was built
 * for) and `type` right after `streamId` (see {@link recordHasType}). Only the envelope's known
 * fields are stored, as in the MongoDB store.
 */
export function recordJson(
  streamId: string,
  version: number,
  envelope: SerializedEnvelope,
): string {
  const record: RedisEventRecord = {
    version,
    streamId,
    type: envelope.type,
    messageId: envelope.messageId,
    aggregateId: envelope.aggregateId,
    aggregateType: envelope.aggregateType,
    data: envelope.data,
    metadata: envelope.metadata,
  };
  return JSON.stringify(record);
}

/**
 * Whether a stored record's type is one of `types`, read from its text without parsing it, so
 * a filtered readAll does not parse (or verify) the events it drops. The record holds version
 * (a number) and streamId (a JSON string, whose quotes are escaped) before type, so the first
 * `"type":"` of the text is the type key.
 */
export function recordHasType(text: string, types: ReadonlySet<string>): boolean {
  const from = text.indexOf('"type":"') + 8;
  const end = text.indexOf('"', from);
  // Not found, or an escape in the type: let JSON decide.
  if (from < 8 || end < 0 || text.lastIndexOf('\\', end) >= from) {
    return types.has((JSON.parse(text) as RedisEventRecord).type);
  }
  return types.has(text.slice(from, end));
}

/**
 * A stored record's version and the time of its `metadata.timestamp` (NaN when that does not
 * parse), for retention by age; the record is parsed, not deserialized.
 */
export function recordTimestamp(text: string): { version: number; timestamp: number } {
  const { version, metadata } = JSON.parse(text) as RedisEventRecord;
  return { version, timestamp: Date.parse(metadata.timestamp) };
}
