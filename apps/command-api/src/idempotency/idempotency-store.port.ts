/** The answer a request produced, replayed as is to a retry with the same Idempotency-Key. */
export interface StoredAnswer {
  status: number;
  /** JSON body; absent for 204. */
  body?: unknown;
}

export type IdempotencyBegin =
  /** First use of the key: process the request, then `complete` or `release` with the token. */
  | { state: 'started'; token: string }
  /** Already answered: send this answer again, do nothing else. */
  | { state: 'completed'; answer: StoredAnswer }
  /** The same request is being processed right now (a concurrent duplicate). */
  | { state: 'in-flight' }
  /** The key was used for a different request (another fingerprint). */
  | { state: 'mismatch' };

/**
 * Remembers the answers of requests sent with an `Idempotency-Key`, so that a retry gets the
 * same answer and causes nothing a second time.
 *
 * Contract (proved by `describeIdempotencyStore` against every implementation):
 * - `begin` is atomic: of any number of concurrent calls for one key, exactly one gets `started`;
 *   the others get `in-flight` (same fingerprint) or `mismatch` (another fingerprint).
 * - After `complete`, `begin` with the same fingerprint returns the stored answer, with another
 *   fingerprint `mismatch`, until `ttlMs` has passed; then the key is free again.
 * - A `started` key that is neither completed nor released is freed after `leaseMs` (the
 *   process handling it died). `release` frees it at once (the request failed; a retry may run).
 * - `complete` and `release` with a token that no longer holds the key change nothing.
 * - Keys are opaque; callers scope them (e.g. per user) themselves.
 */
export interface IdempotencyStore {
  begin(key: string, fingerprint: string, leaseMs: number): Promise<IdempotencyBegin>;
  complete(key: string, token: string, answer: StoredAnswer, ttlMs: number): Promise<void>;
  release(key: string, token: string): Promise<void>;
}
