/**
 * Remembers which messages a consumer group already handled, across instances (S1-9,
 * "exactly once" over "at least once"), and what the handling answered.
 *
 * Contract: `claim` is atomic across processes. A claim expires after `leaseMs` (its holder
 * died, or stopped renewing it); `complete`, `release` and `renew` only act on the caller's own
 * claim (the token) — `complete` also on a key its lapsed claim left free. A completed
 * key answers `done` with the result it was completed with (if any) until `ttlMs` ends.
 * `leaseMs` and `ttlMs` are positive safe integers (milliseconds): anything else is refused
 * before the store changes anything, with a TypeError or RangeError naming the argument
 * (`checkClaimLeaseMs` / `checkCompleteTtlMs`, called by every store).
 */
export interface DeduplicationStore {
  /**
   * 'claimed' (go ahead; `token` identifies the claim), 'done' (already handled; `result` is
   * what `complete` stored, absent if it stored none) or 'busy' (someone handles it now).
   */
  claim(key: string, leaseMs: number): Promise<DeduplicationClaim>;
  /**
   * Marks the key handled, remembered for `ttlMs`, with the handling's encoded result, when the
   * key is held with `token` — or held by no one: a claim that lapsed while its holder still
   * handled (a pause longer than the lease) is completed all the same, as the handling did take
   * place. Resolves true when stored; false, changing nothing, when another claimant holds the
   * key or it is done already (a duplicate may have run meanwhile). A store that resolves
   * nothing (written against the earlier `Promise<void>` contract) is taken as having stored it.
   */
  complete(key: string, token: string, ttlMs: number, result?: string): Promise<boolean | void>;
  /** Gives a failed claim up so that a redelivery can try again. */
  release(key: string, token: string): Promise<void>;
  /**
   * Extends the caller's own claim to `leaseMs` from now (a handling that outlives one lease,
   * e.g. through its retries); resolves false, changing nothing, when the key is not held with
   * `token` any more. Optional: without it a claim lapses after its first lease even while its
   * holder still handles the message, and a duplicate may run meanwhile.
   */
  renew?(key: string, token: string, leaseMs: number): Promise<boolean>;
}

export type DeduplicationClaim =
  { state: 'claimed'; token: string } | { state: 'done'; result?: string } | { state: 'busy' };
