import { createHash } from 'node:crypto';
import { type Envelope } from './envelope';

/** The UUID namespace of derived message ids (RFC 9562 name-based ids need one). */
const NAMESPACE = Buffer.from('5c1f5a52d2a54e6e9a0fd7c3a1b0e217', 'hex');

/**
 * The id of the message that the handling of `cause` sends as its `key`-th reaction: the same
 * for every delivery of `cause`, different for another cause or key. A handler that reacts to
 * an event with a command (a process manager, a saga) and is run again — a redelivery, a retry,
 * a replay — so sends the very same command again, which the receiving side's deduplication
 * (or idempotent handler) recognises; with a fresh id it would be a second command.
 *
 * A name-based UUID (version 5, SHA-1, RFC 9562) of the cause's messageId and `key`.
 * @throws TypeError when `key` is empty or the cause has no messageId
 */
export function derivedMessageId(cause: Pick<Envelope, 'messageId'> | string, key: string): string {
  const causeId = typeof cause === 'string' ? cause : cause?.messageId;
  if (typeof causeId !== 'string' || causeId.length === 0)
    throw new TypeError(
      'derivedMessageId: the cause must be a message (with a messageId) or its id',
    );
  if (typeof key !== 'string' || key.length === 0)
    throw new TypeError('derivedMessageId: key must be a non-empty string naming the reaction');
  // The cause's id with its length: no pair of (cause, key) reads as another.
  const name = `${causeId.length}:${causeId}${key}`;
  const hash = createHash('sha1').update(NAMESPACE).update(name).digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50; // version 5
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The messageId of the event at `index` (from 0) among the events one command decided on one
 * stream: `derivedMessageId(commandId, 'event:<index>')`. The same on every delivery of the
 * command, so a redelivered command appends the very same envelopes (see commandHandler).
 * With `streamId`, the stream is part of it (`event:<index>:<streamId>`): a command that writes
 * several streams (one command, two documents) then gives each stream's events ids of their
 * own, which a deduplicating consumer must not take for one another.
 * @throws TypeError when `commandId` is empty or `index` is not a non-negative integer
 */
export function commandEventId(commandId: string, index: number, streamId?: string): string {
  if (!Number.isSafeInteger(index) || index < 0)
    throw new TypeError(`commandEventId: index must be a non-negative integer, got ${index}`);
  return derivedMessageId(
    commandId,
    streamId === undefined ? `event:${index}` : `event:${index}:${streamId}`,
  );
}
