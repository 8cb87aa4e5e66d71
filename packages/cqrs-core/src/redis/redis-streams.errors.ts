// Moved to the transport port (every transport throws it); exported here as before.
export { TransportClosedError } from '../transport/transport.errors';

/**
 * Redis replied NOGROUP: the stream or its consumer group does not exist — Redis lost its data
 * (restarted without persistence, FLUSHALL, a fresh replica promoted) or the group was destroyed.
 * Lua scripts' errors carry the same text.
 */
export function isMissingGroup(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return message.includes('NOGROUP');
}
