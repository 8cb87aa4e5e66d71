import { checkDurationMs } from '../config/duration.check';

/**
 * Checks a lease's `ttlMs` when the lease is built: a positive safe integer number of
 * milliseconds. Every Lease implementation calls it in its constructor, so a ttl Redis cannot
 * set (1500.5, Infinity) is refused at start-up on every backend, not on the first `acquire()`
 * on Redis only.
 * @throws TypeError or RangeError naming `ttlMs` and the value given
 */
export function checkLeaseTtlMs(ttlMs: unknown): asserts ttlMs is number {
  checkDurationMs('lease ttlMs', ttlMs);
}
