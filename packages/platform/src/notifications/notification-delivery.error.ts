/**
 * What a notification log's follower tells `onFollowError` when its `onEntries` threw (or
 * rejected): the log was read, its reader failed on what it read. That batch is passed over
 * (NotificationLog's contract); `cause` is what `onEntries` threw. Any other error a follower
 * reports is the log's own (a read that failed, its connection lost) and is retried.
 */
export class NotificationDeliveryError extends Error {
  override readonly name = 'NotificationDeliveryError';
  /** How many entries the batch held. */
  readonly count: number;
  /** The batch's first and last entry ids. */
  readonly firstId: string;
  readonly lastId: string;

  constructor(entries: readonly { id: string }[], cause: unknown) {
    const count = entries.length;
    const firstId = entries[0]?.id ?? '';
    const lastId = entries.at(-1)?.id ?? '';
    const range = count === 1 ? firstId : `${firstId} to ${lastId}`;
    super(`onEntries failed on ${count} notification(s) (${range}): ${messageOf(cause)}`, {
      cause,
    });
    this.count = count;
    this.firstId = firstId;
    this.lastId = lastId;
  }

  /** What `onEntries` threw, as a message. */
  get causeMessage(): string {
    return messageOf(this.cause);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
