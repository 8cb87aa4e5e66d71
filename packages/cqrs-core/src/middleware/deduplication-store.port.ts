/**
 * Remembers which messages a consumer group already handled, across instances (S1-9,
 * "exactly once" over "at least once").
 *
 * Contract: `claim` is atomic across processes. A claim expires after `leaseMs` (its holder
 * died); `complete` and `release` only act on the caller's own claim (the token).
 */
export interface DeduplicationStore {
  /** 'claimed' (go ahead; `token` identifies the claim), 'done' (already handled) or 'busy' (someone handles it now). */
  claim(
    key: string,
    leaseMs: number,
  ): Promise<{ state: 'claimed'; token: string } | { state: 'done' | 'busy' }>;
  /** Marks the key handled, remembered for `ttlMs`. */
  complete(key: string, token: string, ttlMs: number): Promise<void>;
  /** Gives a failed claim up so that a redelivery can try again. */
  release(key: string, token: string): Promise<void>;
}
