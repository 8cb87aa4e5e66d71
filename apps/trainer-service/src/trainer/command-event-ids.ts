import { createHash } from 'node:crypto';

// Namespace of the ids of events produced by a command (a fixed, random uuid).
const NAMESPACE = Buffer.from('6f1d0c0e5b3a4f0f9a7e2d8c4b1a9e37', 'hex');

/**
 * A uuid v5 (RFC 9562, SHA-1) of `name` in this service's namespace. Event ids derived from the
 * command id and the event's index make a command redelivered after a crash append the very
 * same envelopes, so the event store recognises a repeated append.
 */
export function uuidV5(name: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The id of the event at `index` (from 0) among the events of one command. */
export function commandEventId(commandId: string, index: number): string {
  return uuidV5(`${commandId}:${index}`);
}

/** Ids of the events of one command attempt, in order: `commandEventId(commandId, 0)`, 1, … */
export function commandEventIds(commandId: string): () => string {
  let index = 0;
  return () => commandEventId(commandId, index++);
}
