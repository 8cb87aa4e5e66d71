import { testEnvelope } from '../testing/envelope.fixture';
import { checksumOf } from './checksum';
import { DEFAULT_MAX_MESSAGE_BYTES, JsonSerializer } from './json.serializer';
import {
  ChecksumMismatchError,
  MessageTooLargeError,
  MessageValidationError,
} from './message.errors';

describe('JsonSerializer', () => {
  const serializer = new JsonSerializer();

  it('serializes data to JSON, stamps its checksum and schema version, and reads it back', () => {
    const envelope = testEnvelope('Moved', { x: 1, name: 'ä✓' });
    const serialized = serializer.serialize(envelope);
    expect(serialized.data).toBe('{"x":1,"name":"ä✓"}');
    expect(serialized.metadata.checksum).toBe(checksumOf(serialized.data));
    expect(serialized.metadata.schemaVersion).toBe(1);
    expect(serializer.deserialize(serialized)).toEqual({
      ...envelope,
      metadata: serialized.metadata,
    });
    const versioned = testEnvelope('Moved', 1, { metadata: { timestamp: 't', schemaVersion: 3 } });
    expect(serializer.serialize(versioned).metadata.schemaVersion).toBe(3);
  });

  it('refuses data above the limit in UTF-8 bytes, not characters', () => {
    const small = new JsonSerializer({ maxMessageBytes: 10 });
    // '"ääää"' is 6 characters but 10 bytes: just within the limit.
    expect(() => small.serialize(testEnvelope('T', 'ääää'))).not.toThrow();
    const envelope = testEnvelope('T', 'äääää');
    expect(() => small.serialize(envelope)).toThrow(MessageTooLargeError);
    expect(() => small.serialize(envelope)).toThrow(
      expect.objectContaining({ messageId: envelope.messageId, sizeBytes: 12, maxBytes: 10 }),
    );
    expect(DEFAULT_MAX_MESSAGE_BYTES).toBe(1.5 * 1024 * 1024);
  });

  it('refuses data JSON cannot represent', () => {
    expect(() => serializer.serialize(testEnvelope('T', { n: BigInt(1) }))).toThrow(
      MessageValidationError,
    );
    expect(() => serializer.serialize(testEnvelope('T', undefined))).toThrow(
      MessageValidationError,
    );
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => serializer.serialize(testEnvelope('T', cycle))).toThrow(MessageValidationError);
  });

  it('refuses to read data that does not match its checksum', () => {
    const serialized = serializer.serialize(testEnvelope('T', { amount: 10 }));
    expect(() => serializer.deserialize({ ...serialized, data: '{"amount":1000}' })).toThrow(
      ChecksumMismatchError,
    );
  });
});
