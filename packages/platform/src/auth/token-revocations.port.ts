/**
 * Which users' tokens were revoked, and up to when: "sign out everywhere", a locked account.
 * TokenService refuses a revoked token like an invalid one (401, reason `invalid`).
 *
 * Contract:
 * - `revoke(userId, at)` revokes every token of `userId` issued at or before `at` (epoch ms,
 *   compared with the token's `iat`, which has whole seconds: a token issued in the same second
 *   as the revocation is revoked too; TokenService also revokes the REVOCATION_SKEW_MS after it,
 *   for issuers whose clock runs ahead). Tokens issued later pass. A later `at` moves the cut
 *   forward; an earlier one changes nothing. Resolves once it is stored.
 * - `revokedUntil(userId)` answers synchronously, from this instance's copy: the cut, or
 *   undefined. A revocation reaches the copies of every instance within the backend's
 *   propagation delay (Redis: one pub/sub hop; after a lost connection, the reload that follows
 *   it).
 * - `ready` is true once the copy was loaded at least once (`start`); before that nothing is
 *   revoked here, and the instance's readiness probe says so.
 * - `onRevoked(listener)` is told `(userId, cut, reason)` whenever this instance's copy moves a
 *   user's cut forward, whoever revoked (this instance, another one, or a reload): what the
 *   credentials opened here (streams) is ended then. `reason` is the revoker's (`revoke`'s third
 *   argument) when the cut came from the revoker, undefined when it came from a reload. A
 *   listener must not throw. It returns the listener's removal: once called (again: harmless),
 *   that listener is told nothing more (what it would end has stopped, e.g. at shutdown); the
 *   other listeners still are.
 * - A cut is kept `keepMs` (an option of each implementation; default for ever; the apps use
 *   TokenService.revocationHorizonMs of JWT_MAX_LIFETIME_S): once it is older than that by this
 *   host's clock, every token it revoked has expired, so it refuses nothing more. Then
 *   `revokedUntil` answers undefined, and the backend drops it (Redis: at the next reload of any
 *   instance), so that what is kept and reloaded stays the revocations of the last `keepMs`,
 *   not every revocation ever made. A cut given to `revoke` already older than that is dropped
 *   so too.
 * - `close` stops keeping the copy current; it stays readable.
 */
export interface TokenRevocations {
  revoke(userId: string, at?: number, reason?: string): Promise<void>;
  revokedUntil(userId: string): number | undefined;
  onRevoked(listener: RevocationListener): () => void;
  readonly ready: boolean;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Told of a cut: the user, the cut (epoch ms), the revoker's reason when known. */
export type RevocationListener = (userId: string, cut: number, reason?: string) => void;

/** What TokenService needs of it. */
export type RevocationCheck = Pick<TokenRevocations, 'revokedUntil'>;
