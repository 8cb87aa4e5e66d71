import { type Connection } from 'mongoose';

/** Resolves once the mongoose connection is open (now or after its next successful open). */
export function whenOpen(connection: Connection): Promise<void> {
  // 1 = connected
  if (connection.readyState === 1 && connection.db) return Promise.resolve();
  return new Promise((resolve) => connection.once('open', () => resolve()));
}
