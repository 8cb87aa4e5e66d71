/**
 * Where a message that could not be decoded was stored, when an event store read it: the store
 * sets these on the error it rethrows (the error keeps its class), so an operator can find the
 * event to repair or remove. Unset when the message did not come from a store.
 */
export interface StoredEventFacts {
  streamId?: string;
  version?: number;
  /** The event's position in the store's global log. */
  position?: number;
}

/** No schema, upcaster or handler is registered for a message type. */
export class UnknownMessageTypeError extends Error implements StoredEventFacts {
  /** Set by an event store that read the message (see StoredEventFacts). */
  messageId?: string;
  streamId?: string;
  version?: number;
  position?: number;

  constructor(readonly type: string) {
    super(`Unknown message type "${type}": register it with the serializer registry`);
    this.name = 'UnknownMessageTypeError';
  }
}

/** Message data does not match the schema registered for its type. */
export class MessageValidationError extends Error implements StoredEventFacts {
  /** Set by an event store that read the message (see StoredEventFacts). */
  messageId?: string;
  streamId?: string;
  version?: number;
  position?: number;

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
export class ChecksumMismatchError extends Error implements StoredEventFacts {
  /** Set by an event store that read the message (see StoredEventFacts). */
  streamId?: string;
  version?: number;
  position?: number;

  constructor(
    readonly messageId: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`Checksum mismatch for message ${messageId}: expected ${expected}, got ${actual}`);
    this.name = 'ChecksumMismatchError';
  }
}

/**
 * A message whose serialized envelope (data, metadata and ids as JSON) exceeds the configured
 * maximum (`maxMessageBytes` of the serializer or the publisher); refused before anything is written.
 */
export class MessageTooLargeError extends Error {
  constructor(
    readonly messageId: string,
    readonly sizeBytes: number,
    readonly maxBytes: number,
  ) {
    super(
      `Message ${messageId} is ${sizeBytes} bytes; the maximum (maxMessageBytes) is ${maxBytes}`,
    );
    this.name = 'MessageTooLargeError';
  }
}
