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

  it('refuses an envelope above the limit in UTF-8 bytes of its JSON text, not characters', () => {
    const fits = testEnvelope('T', 'ääää');
    const size = Buffer.byteLength(JSON.stringify(serializer.serialize(fits)));
    const small = new JsonSerializer({ maxMessageBytes: size });
    expect(() => small.serialize(fits)).not.toThrow();
    // One more 'ä' is one character but 2 bytes.
    const envelope = { ...fits, data: 'äääää' };
    expect(() => small.serialize(envelope)).toThrow(
      expect.objectContaining({
        messageId: envelope.messageId,
        sizeBytes: size + 2,
        maxBytes: size,
      }),
    );
    expect(() => small.serialize(envelope)).toThrow(
      `Message ${envelope.messageId} is ${size + 2} bytes; the maximum (maxMessageBytes) is ${size}`,
    );
    expect(DEFAULT_MAX_MESSAGE_BYTES).toBe(1.5 * 1024 * 1024);
  });

  it('counts metadata against the limit: megabytes of it are refused as megabytes of data are', () => {
    const envelope = testEnvelope('T', 1, {
      metadata: { timestamp: 't', note: 'x'.repeat(DEFAULT_MAX_MESSAGE_BYTES) },
    });
    expect(() => serializer.serialize(envelope)).toThrow(MessageTooLargeError);
    expect(() => serializer.serialize(envelope)).toThrow(
      expect.objectContaining({ maxBytes: DEFAULT_MAX_MESSAGE_BYTES }),
    );
  });

  it('refuses a limit that is not a positive number of bytes, as SerializerRegistry does', () => {
    // NaN or a string ('1048576' from an environment variable) used to lift the limit silently;
    // 0 or a negative one refused every message at the first write.
    // The string is shown quoted: "got 1048576" read as a positive number of bytes refused.
    for (const [bad, shown] of [
      [NaN, 'NaN'],
      [-1, '-1'],
      [0, '0'],
      ['1048576', '"1048576"'],
    ] as const)
      expect(() => new JsonSerializer({ maxMessageBytes: bad as number })).toThrow(
        new TypeError(
          `JsonSerializer: options.maxMessageBytes must be a positive number of bytes (Infinity for no limit), got ${shown}`,
        ),
      );
    expect(new JsonSerializer({ maxMessageBytes: Infinity }).maxMessageBytes).toBe(Infinity);
  });

  it('applies the limit a call passes instead of its own (a transport encoding for the wire)', () => {
    const envelope = testEnvelope('T', 'x'.repeat(DEFAULT_MAX_MESSAGE_BYTES));
    expect(() => serializer.serialize(envelope)).toThrow(MessageTooLargeError);
    expect(serializer.serialize(envelope, { maxMessageBytes: Infinity }).data).toBe(
      JSON.stringify(envelope.data),
    );
    expect(() =>
      serializer.serialize(testEnvelope('T', 'x'.repeat(300)), { maxMessageBytes: 200 }),
    ).toThrow(expect.objectContaining({ maxBytes: 200 }));
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
