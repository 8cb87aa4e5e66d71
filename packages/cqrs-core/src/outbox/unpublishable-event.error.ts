import { type StoredEvent } from '../event-store/event-store.port';
import {
  ChecksumMismatchError,
  MessageTooLargeError,
  MessageValidationError,
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
