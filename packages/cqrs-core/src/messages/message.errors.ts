/** No schema, upcaster or handler is registered for a message type. */
export class UnknownMessageTypeError extends Error {
  constructor(readonly type: string) {
    super(`Unknown message type "${type}": register it with the serializer registry`);
    this.name = 'UnknownMessageTypeError';
  }
}

/** Message data does not match the schema registered for its type. */
export class MessageValidationError extends Error {
  constructor(
    readonly type: string,
    /** Dotted path of the first offending field, e.g. `position.x`; '' for the whole body. */
    readonly field: string,
    readonly problem: string,
  ) {
    super(`Invalid ${type}: ${field || '(data)'} ${problem}`);
    this.name = 'MessageValidationError';
  }
}

/** The stored or received data does not match its checksum: corrupted or tampered with. */
export class ChecksumMismatchError extends Error {
  constructor(
    readonly messageId: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`Checksum mismatch for message ${messageId}: expected ${expected}, got ${actual}`);
    this.name = 'ChecksumMismatchError';
  }
}

/** A message whose serialized data exceeds the configured maximum; refused before anything is written. */
export class MessageTooLargeError extends Error {
  constructor(
    readonly messageId: string,
    readonly sizeBytes: number,
    readonly maxBytes: number,
  ) {
    super(`Message ${messageId} is ${sizeBytes} bytes; the maximum is ${maxBytes}`);
    this.name = 'MessageTooLargeError';
  }
}
