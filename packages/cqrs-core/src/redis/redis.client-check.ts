import type Redis from 'ioredis';
import { shownValue } from '../config/shown-value';

/**
 * Refuses anything but an ioredis client where a store takes one, when the store is built. The
 * stores built on a client alone would otherwise take the `redisConnection(...)` itself (whose
 * client is `.client`) or an options object, and fail only at their first call with
 * "this.redis.hget is not a function".
 *
 * @throws TypeError naming the store, the argument and what to pass instead
 */
export function checkRedisClient(client: unknown, owner: string, argument: string): void {
  if (isRedisClient(client)) return;
  const connection =
    typeof client === 'object' &&
    client !== null &&
    isRedisClient((client as { client?: unknown }).client)
      ? 'a connection or an object holding the client: pass its .client'
      : undefined;
  throw new TypeError(
    `${owner}: ${argument} must be an ioredis client (redisConnection(...).client), got ${
      connection ??
      (client === null || typeof client !== 'object' ? shownValue(client) : 'another object')
    }`,
  );
}

function isRedisClient(value: unknown): value is Redis {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Redis).eval === 'function' &&
    typeof (value as Redis).hget === 'function'
  );
}
