/**
 * A lease that at most one holder has at a time (e.g. "the outbox forwarder of trainer-service").
 *
 * Contract (proved by `describeLease` against every implementation):
 * - `acquire()` takes the lease when nobody holds it, or renews it when this holder does, for
 *   `ttlMs` from now; it resolves true when this holder has it afterwards, false otherwise.
 * - A lease that is not renewed lapses after `ttlMs`; another holder may then take it.
 * - `release()` gives the lease up if this holder has it (never someone else's), so a successor
 *   need not wait for it to lapse.
 * - A holder that cannot renew in time (a stalled event loop) may believe it still holds the
 *   lease for a moment after it lapsed: use leases where two holders for a short while only cost
 *   duplicates (the outbox republishes, consumers deduplicate).
 */
export interface Lease {
  readonly ttlMs: number;
  acquire(): Promise<boolean>;
  release(): Promise<void>;
}
