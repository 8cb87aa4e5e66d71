import { type StoredEvent } from '../event-store/event-store.port';
import {
  ChecksumMismatchError,
  MessageTooLargeError,
  MessageValidationError,
  type StoredEventFacts,
  UnknownMessageTypeError,
} from '../messages/message.errors';
import { InvalidTopicError } from '../transport/transport.errors';

/**
 * An event of the store that the forwarder can never publish as it is: its type is not
 * registered with the publisher's serializer, its data fails the current schema, it is too
 * large for the transport, or its topic is not a legal name. Retrying cannot help; the
 * serializer registry (or the event) must change. Without `deadLetters` the forwarder stops at
 * it (nothing after it is published) and reports this error through `onError` every round.
 */
export class UnpublishableEventError extends Error {
  readonly streamId: string;
  readonly version: number;
  readonly position: number;
  readonly messageId: string;
  readonly type: string;

  constructor(
    event: StoredEvent,
    readonly topic: string,
    override readonly cause: Error,
  ) {
    super(
      `event ${event.type} ${event.messageId} (stream ${event.streamId}, version ${event.version}, ` +
        `position ${event.position}) cannot be published to ${topic}: ${cause.message}. ` +
        "Fix the publisher's serializer registry or the event, or give the forwarder deadLetters " +
        'to set such events aside',
    );
    this.name = 'UnpublishableEventError';
    this.streamId = event.streamId;
    this.version = event.version;
    this.position = event.position;
    this.messageId = event.messageId;
    this.type = event.type;
  }
}

/** Whether publishing failed because of the message itself: the same message fails again. */
export function isUnencodable(error: unknown): error is Error {
  return (
    error instanceof UnknownMessageTypeError ||
    error instanceof MessageValidationError ||
    error instanceof MessageTooLargeError ||
    error instanceof ChecksumMismatchError ||
    error instanceof InvalidTopicError
  );
}

/**
 * The event after the forwarder's checkpoint that its store cannot read (decode) as stored: its
 * type is not registered with the store's serializer, its data fails the current schema, an
 * upcaster fails on it, or it is corrupted (checksum). Where the store and the publisher share a
 * registry (as trainer-service's do) a schema tightened by a deploy fails here, on the read,
 * not on the publish: `deadLetters` cannot set the event aside (it was never read), and every
 * round fails at it until the registry is fixed or the event removed.
 */
export class UnreadableEventError extends Error {
  readonly position: number;
  readonly streamId?: string;
  readonly version?: number;
  readonly messageId?: string;

  constructor(
    /** The store's error, located at the event (StoredEventFacts: at least its position). */
    override readonly cause: Error & StoredEventFacts & { messageId?: string; position: number },
  ) {
    const where = [
      cause.streamId === undefined ? undefined : `stream ${cause.streamId}`,
      cause.version === undefined ? undefined : `version ${cause.version}`,
    ].filter((part) => part !== undefined);
    super(
      `the event at position ${cause.position}${where.length > 0 ? ` (${where.join(', ')})` : ''} ` +
        `cannot be read: ${cause.message}. Fix the store's serializer registry (register the ` +
        'type or its former name, add an upcaster, accept the stored data) or remove the event',
    );
    this.name = 'UnreadableEventError';
    this.position = cause.position;
    if (cause.streamId !== undefined) this.streamId = cause.streamId;
    if (cause.version !== undefined) this.version = cause.version;
    if (cause.messageId !== undefined) this.messageId = cause.messageId;
  }

  /** Whether a read of the store failed at one of its events (located: it names its position). */
  static locates(
    error: unknown,
  ): error is Error & StoredEventFacts & { messageId?: string; position: number } {
    return error instanceof Error && typeof (error as StoredEventFacts).position === 'number';
  }
}
