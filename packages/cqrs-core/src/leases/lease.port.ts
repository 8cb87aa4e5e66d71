/**
 * A lease that at most one holder has at a time, e.g. "the outbox forwarder of
 * trainer-service" or "the projections of the billing service": the way to run a worker in one
 * instance of a service that has several.
 *
 * Contract (proved by `describeLeaseConformance` from `./testing` against every implementation):
 * - `acquire()` takes the lease when nobody holds it, or renews it when this holder does, for
 *   `ttlMs` from now; it resolves true when this holder has it afterwards, false otherwise.
 * - Of holders racing for a free lease, exactly one gets it.
 * - A lease that is not renewed lapses after `ttlMs`; another holder may then take it.
 * - `release()` gives the lease up if this holder has it (never someone else's), so a successor
 *   need not wait for it to lapse.
 * - There is no fencing: a holder that cannot renew in time (a stalled event loop, a long GC)
 *   may believe it still holds the lease for a moment after it lapsed. Use leases where two
 *   holders for a short while only cost duplicates (the outbox republishes and consumers
 *   deduplicate; a projection's `apply` is idempotent).
 * - `ttlMs` is a positive safe integer (milliseconds): an implementation refuses any other value
 *   when it is built (`checkLeaseTtlMs`: a TypeError or RangeError naming `lease ttlMs`), not on
 *   the first `acquire()`.
 */
export interface Lease {
  readonly ttlMs: number;
  acquire(): Promise<boolean>;
  release(): Promise<void>;
}
