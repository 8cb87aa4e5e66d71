import { MessageTooLargeError } from '../messages/message.errors';

/** An append of more events than one commit can number (see POSITIONS_PER_SLOT). */
export class TooManyEventsError extends Error {
  constructor(
    readonly streamId: string,
    readonly count: number,
    readonly max: number,
  ) {
    super(`Cannot append ${count} events to ${streamId} at once; the maximum is ${max}`);
    this.name = 'TooManyEventsError';
  }
}

/**
 * An append whose commit (its events, as one document) is larger than the server's largest
 * document: refused before anything is written. Split the append.
 */
export class CommitTooLargeError extends MessageTooLargeError {
  constructor(
    readonly streamId: string,
    readonly count: number,
    sizeBytes: number,
    maxBytes: number,
  ) {
    super(`${streamId}@append`, sizeBytes, maxBytes);
    this.message =
      `Cannot append ${count} events to ${streamId} at once: as one document they take ` +
      `${sizeBytes} bytes, over MongoDB's maximum of ${maxBytes}; split the append`;
    this.name = 'CommitTooLargeError';
  }
}
