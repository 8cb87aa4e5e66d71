/** The answer a request produced, replayed as is to a retry with the same Idempotency-Key. */
export interface StoredAnswer {
  status: number;
  /** JSON body; absent for 204. */
  body?: unknown;
}

export type IdempotencyBegin =
  /**
   * The key is free (first use, released, or its holder's lease lapsed): process the request,
   * then `complete` or `release` with the token. `startedAt` is the `at` of the first `begin`
   * that started the key (see IdempotencyStart): a retry after a failure gets the first
   * attempt's time, not its own. `resumed`: an earlier attempt started the key and its start
   * was kept (released with `keepStart`, or its lease lapsed): it may have sent a command.
   */
  | { state: 'started'; token: string; startedAt: number; resumed: boolean }
  /** Already answered: send this answer again, do nothing else. */
  | { state: 'completed'; answer: StoredAnswer }
  /** The same request is being processed right now (a concurrent duplicate). */
  | { state: 'in-flight' }
  /** The key was used for a different request (another fingerprint). */
  | { state: 'mismatch' };

/** When a `begin` starts, and how long the key's first start time is remembered. */
export interface IdempotencyStart {
  /** Epoch ms of this attempt (the caller's clock): the key's start time if it has none yet. */
  at: number;
  /**
   * The token this attempt holds the key with when it starts it (default: a random one). Give
   * one to be able to `abandon` a begin whose answer never came.
   */
  token?: string;
  /**
   * How long after this `begin` the key's start time is kept, though the request is released
   * or its lease lapses (at least the lease). An answer's `ttlMs` replaces it on `complete`.
   */
  keepMs: number;
}

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
 *   process handling it died). `release` frees it at once (the request failed; a retry may run):
 *   the key is new again, unless `keepStart` (the request may have sent a command before it
 *   failed), which keeps its start time as below.
 * - A key whose request may have sent a command stays bound to that request: after a release
 *   with `keepStart` or a lapsed lease, `begin` with another fingerprint is `mismatch` as long
 *   as the start time is kept. (Its commands' ids derive from the key, the request's
 *   fingerprint and the start time, IdempotencyGate and idempotentCommandId: another request
 *   would get ids of its own, and so does any request once the start time is forgotten.)
 * - `complete`, `release` and `abandon` with a token that no longer holds the key change nothing.
 * - `abandon` undoes the `begin` that took the key with its token (see abandon).
 * - A key remembers when it was first started: a `begin` that starts it returns as `startedAt`
 *   the `at` of the first `begin` that started it, through releases
 *   with `keepStart` and lapsed leases, until `keepMs` after the last `begin` that started it (or the answer's
 *   `ttlMs` after `complete`). Then the key is new: `startedAt` is the caller's `at` again. So
 *   a command sent again under the key (the same command id, idempotentCommandId) keeps the
 *   first attempt's creation time, and so its deadline.
 * - Keys are opaque; callers scope them (e.g. per user) themselves.
 */
export interface IdempotencyStore {
  begin(
    key: string,
    fingerprint: string,
    leaseMs: number,
    start: IdempotencyStart,
  ): Promise<IdempotencyBegin>;
  complete(key: string, token: string, answer: StoredAnswer, ttlMs: number): Promise<void>;
  release(key: string, token: string, options?: { keepStart?: boolean }): Promise<void>;
  /**
   * Undoes a `begin` whose answer its caller never got (it failed or timed out, but the store
   * may have run it, then or later): when `token` holds the key, the key goes back to how that
   * begin found it — forgotten if the begin started it new, else free for retries of its
   * request with its earlier start time kept. Changes nothing otherwise (another holder, an
   * answer, a key that begin never reached). Call it again until it resolves: it is idempotent.
   */
  abandon(key: string, token: string): Promise<void>;
}
