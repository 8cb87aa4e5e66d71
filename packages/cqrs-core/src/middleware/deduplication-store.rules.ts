import { checkDurationMs } from '../config/duration.check';

/**
 * Checks `claim`'s lease before a deduplication store does anything: a positive safe integer
 * number of milliseconds. Every store calls it, so a lease Redis cannot set (0, 1.5, Infinity)
 * is refused alike in memory instead of passing tests there and failing every delivery on Redis.
 * @throws TypeError or RangeError naming `leaseMs` and the value given
 */
export function checkClaimLeaseMs(leaseMs: unknown): asserts leaseMs is number {
  checkDurationMs('leaseMs', leaseMs);
}

/**
 * Checks `complete`'s ttl before a deduplication store does anything: a positive safe integer
 * number of milliseconds (see checkClaimLeaseMs).
 * @throws TypeError or RangeError naming `ttlMs` and the value given
 */
export function checkCompleteTtlMs(ttlMs: unknown): asserts ttlMs is number {
  checkDurationMs('ttlMs', ttlMs);
}
