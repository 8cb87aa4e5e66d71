import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import {
  type JWTPayload,
  SignJWT,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { hasNoNul, isWellFormedText, MAX_USER_ID_LENGTH } from '@causeway/contracts';
import { type RevocationCheck } from './token-revocations.port';

/** Who is calling: the verified `sub` of their token. */
export interface Caller {
  userId: string;
  /** Trainers this caller may move besides their own (the trainer whose id is their user id). */
  trainerIds: readonly string[];
  /**
   * When the caller's session ends (epoch ms): the `exp` of an access token; for a stream token
   * the `exp` of the access token it was issued for (its `ses` claim), not its own short one.
   * What the credential opened ends then too (sse-gateway closes the stream with `expired`).
   * Undefined for a stream token without `ses` (issued before the claim existed).
   */
  expiresAt?: number;
  /**
   * When the caller's session began (epoch ms): an access token's `iat`; for a stream token the
   * `iat` of the access token it was issued for (its `sit` claim), else its own. Revocations
   * are decided on it (TokenService.revokedBy). Undefined for a token without `iat`.
   */
  issuedAt?: number;
}

/** What a token is for: `access` (API calls, cookies) or `stream` (a short-lived `?token=` for EventSource). */
export type TokenUse = 'access' | 'stream';

/** The longest user id (`sub`) a token may carry (as a trainer's id); ids are keys and appear in messages. */
export { MAX_USER_ID_LENGTH };

/** Clock difference tolerated between the issuer and this process, in seconds. */
const CLOCK_SKEW_S = 60;

/**
 * How far past a revocation's cut a token's `iat` is still revoked: the clock difference a
 * token's `iat` is allowed (CLOCK_SKEW_S). A token issued before the revocation by an issuer
 * whose clock runs ahead would pass otherwise; the price is that a token issued in the minute
 * after a revocation is refused too (sign in again a minute later).
 */
export const REVOCATION_SKEW_MS = CLOCK_SKEW_S * 1000;

/**
 * How many verified tokens a TokenService remembers (the oldest forgotten first). A client
 * presents the same access token with every request until it expires: remembered, its
 * signature is not checked again (an HMAC, two base64url decodes and a JSON parse per request:
 * 16–23 µs of CPU, under 1 µs remembered; a profile of command-api at 200 moves/s had ~14 % of
 * its CPU in verification). Only tokens that passed verification are kept, keyed by the whole
 * token (signature included), so a forged or altered token never matches; expiry, use,
 * revocation and the rest are checked on every call.
 */
const VERIFIED_KEPT = 10_000;

/** Why a presented token was refused: it expired (get a new one), or it is not valid at all. */
export type TokenRefusal = 'expired' | 'invalid';

export class InvalidTokenError extends Error {
  constructor(
    message: string,
    readonly refusal: TokenRefusal = 'invalid',
  ) {
    super(message);
    this.name = 'InvalidTokenError';
  }
}

/**
 * The `WWW-Authenticate` challenge of a 401 (RFC 6750 section 3): the realm alone when no token
 * was presented, with `error="invalid_token"` and a description of the refusal when one was,
 * so that a client can tell "sign in" from "renew the token" without reading `detail`.
 */
export function bearerChallenge(refusal?: TokenRefusal): string {
  const realm = 'Bearer realm="causeway"';
  if (refusal === undefined) return realm;
  const description = refusal === 'expired' ? 'the token expired' : 'the token is not valid';
  return `${realm}, error="invalid_token", error_description="${description}"`;
}

/**
 * The most trainer ids an access token issued here carries (`trainers`): at the longest ids
 * (128 characters) its header stays well inside what servers take (Node's 16 KB); uncapped, a
 * token could be signed and then answered 431 at every use. A stream token copies the trainers
 * of the access token it is issued for, however many.
 */
export const MAX_TOKEN_TRAINERS = 32;

export interface TokenServiceOptions {
  /** HS256 secret from configuration (JWT_SECRET), at least 32 characters. */
  secret: string;
  /**
   * Secrets that verify but no longer sign (JWT_PREVIOUS_SECRETS), each at least 32
   * characters: during a rotation, tokens signed with the secret before keep working until
   * they expire, while new ones are signed with `secret`. Default none.
   */
  previousSecrets?: readonly string[];
  /** `iss` of issued tokens and the only issuer accepted. Default 'causeway'. */
  issuer?: string;
  /** Lifetime of `stream` tokens. Default 60 s. */
  streamTtlSeconds?: number;
  /**
   * The longest a token may live (JWT_MAX_LIFETIME_S): with it, a token must carry `iat`, and
   * one whose `exp` is more than this after its `iat` is refused as invalid; tokens issued here
   * live at most this long. What bounds it bounds how long a revocation matters
   * (TokenService.revocationHorizonMs). Default: unbounded, `iat` optional.
   */
  maxLifetimeSeconds?: number;
  /**
   * Revoked users (TokenRevocations): a token of theirs issued at or before the cut (its `iat`;
   * without one, any) is refused as invalid. Default: none revoked.
   */
  revocations?: RevocationCheck;
}

/** HS256 JWTs (jose): issues and verifies the tokens of command-api and sse-gateway. */
export class TokenService {
  private readonly key: KeyObject;
  /** The signing key's id (`kid` of issued tokens): a digest of the secret, not the secret. */
  private readonly keyId: string;
  /** Every key that verifies, the signing one first, by key id. */
  private readonly keys: Map<string, KeyObject>;
  /** The claims of tokens verified before, the newest VERIFIED_KEPT. */
  private readonly remembered = new Map<string, JWTPayload>();
  private readonly issuer: string;
  private readonly streamTtlSeconds: number;
  private readonly revocations: RevocationCheck | undefined;
  /** TokenServiceOptions.maxLifetimeSeconds; undefined when unbounded. */
  readonly maxLifetimeSeconds: number | undefined;

  constructor(options: TokenServiceOptions) {
    if (options.secret.length < 32) throw new Error('JWT_SECRET must be at least 32 characters');
    options.previousSecrets?.forEach((previous, index) => {
      if (previous.length < 32)
        throw new Error(`JWT_PREVIOUS_SECRETS: secret ${index + 1} must be at least 32 characters`);
    });
    this.key = createSecretKey(Buffer.from(options.secret, 'utf8'));
    this.keyId = keyIdOf(options.secret);
    this.keys = new Map([
      [this.keyId, this.key],
      ...(options.previousSecrets ?? []).map(
        (previous) => [keyIdOf(previous), createSecretKey(Buffer.from(previous, 'utf8'))] as const,
      ),
    ]);
    this.issuer = options.issuer ?? 'causeway';
    this.streamTtlSeconds = options.streamTtlSeconds ?? 60;
    this.revocations = options.revocations;
    this.maxLifetimeSeconds = options.maxLifetimeSeconds;
    if (this.maxLifetimeSeconds !== undefined) {
      if (!Number.isInteger(this.maxLifetimeSeconds) || this.maxLifetimeSeconds < 1)
        throw new Error('JWT_MAX_LIFETIME_S must be a positive whole number of seconds');
      if (this.streamTtlSeconds > this.maxLifetimeSeconds)
        throw new Error(
          `JWT_MAX_LIFETIME_S (${this.maxLifetimeSeconds} s) must be at least the stream token lifetime (${this.streamTtlSeconds} s)`,
        );
    }
  }

  /**
   * How long after its cut a revocation still refuses a token that verification with
   * `maxLifetimeSeconds` would otherwise accept (TokenRevocations' `keepMs`): a token issued
   * at or before cut + REVOCATION_SKEW_MS expires by then + the lifetime; a stream token issued
   * for it lives `streamTtlSeconds` past that at most; and the hosts' clocks may differ by the
   * allowance (CLOCK_SKEW_S) once more. Past the horizon the cut refuses nothing: forget it.
   */
  static revocationHorizonMs(maxLifetimeSeconds: number, streamTtlSeconds = 60): number {
    return (maxLifetimeSeconds + streamTtlSeconds) * 1000 + 2 * REVOCATION_SKEW_MS;
  }

  /**
   * Signs a token for `userId`; stream tokens always get the short stream lifetime, and no
   * token lives longer than `maxLifetimeSeconds` (a longer `ttlSeconds` is cut to it). A stream
   * token is issued for a session: `sessionExpiresAt` (epoch ms, the `expiresAt` of the caller
   * who asks for it) becomes its `ses` claim, and it expires no later than that.
   */
  async issue(
    userId: string,
    options: {
      use?: TokenUse;
      ttlSeconds?: number;
      trainerIds?: readonly string[];
      sessionExpiresAt?: number;
      /** For a stream token: when the session began (the access token's Caller.issuedAt). */
      sessionIssuedAt?: number;
    } = {},
  ): Promise<{ token: string; expiresAt: number }> {
    // What verify would refuse is not signed: such a token could only be answered 401 later.
    const userProblem = idProblem(userId, 'sub');
    if (userProblem) throw new TypeError(`TokenService.issue: userId ${userProblem}`);
    const trainerIds: unknown = options.trainerIds ?? [];
    if (!Array.isArray(trainerIds))
      throw new TypeError(
        `TokenService.issue: options.trainerIds must be an array of ids, got ${typeof trainerIds}`,
      );
    // A stream token carries its session's trainers, as many as the access token verified held.
    if (options.use !== 'stream' && trainerIds.length > MAX_TOKEN_TRAINERS)
      throw new TypeError(
        `TokenService.issue: options.trainerIds holds ${trainerIds.length} ids, at most ${MAX_TOKEN_TRAINERS} (MAX_TOKEN_TRAINERS)`,
      );
    trainerIds.forEach((id: unknown, i) => {
      const problem = idProblem(id, 'trainer');
      if (problem) throw new TypeError(`TokenService.issue: options.trainerIds[${i}] ${problem}`);
    });
    const use = options.use ?? 'access';
    const now = Math.floor(Date.now() / 1000);
    const ttl = use === 'stream' ? this.streamTtlSeconds : (options.ttlSeconds ?? 3600);
    let exp = now + Math.min(ttl, this.maxLifetimeSeconds ?? ttl);
    const claims: Record<string, unknown> = { use, trainers: [...(options.trainerIds ?? [])] };
    if (use === 'stream' && options.sessionExpiresAt !== undefined) {
      const ses = Math.floor(options.sessionExpiresAt / 1000);
      claims.ses = ses;
      exp = Math.min(exp, ses);
    }
    // A stream token is revoked with the session it was issued for, not by its own later `iat`.
    if (use === 'stream' && options.sessionIssuedAt !== undefined)
      claims.sit = Math.floor(options.sessionIssuedAt / 1000);
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: this.keyId })
      .setSubject(userId)
      .setIssuer(this.issuer)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expiresAt: exp * 1000 };
  }

  /**
   * Verifies signature (HS256 only), issuer, expiry, not-before and use, and that the token has
   * no audience (`aud`: see below); throws InvalidTokenError saying what is wrong.
   */
  async verify(token: string, use: TokenUse = 'access'): Promise<Caller> {
    try {
      const payload = await this.claimsOf(token);
      if ((payload.use ?? 'access') !== use)
        throw new InvalidTokenError(`token is a "${String(payload.use)}" token, not "${use}"`);
      // Tokens are issued here without an audience, and this service is none: one addressed to
      // an audience was minted for another service sharing the secret and issuer, and must be
      // rejected (RFC 7519 section 4.1.3) rather than act as its user here.
      if (payload.aud !== undefined)
        throw new InvalidTokenError(
          'invalid token: the "aud" claim names an audience, and this service accepts tokens without one',
        );
      // The user id everything is keyed by: a number or "" would name nobody (or everybody).
      if (typeof payload.sub !== 'string' || payload.sub.trim().length === 0)
        throw new InvalidTokenError('invalid token: the "sub" claim must be a non-empty string');
      if (payload.sub.length > MAX_USER_ID_LENGTH)
        throw new InvalidTokenError(
          `invalid token: the "sub" claim must be at most ${MAX_USER_ID_LENGTH} characters`,
        );
      // Stored as UTF-8, ids with lone surrogates would share keys with other users' ids.
      if (!isWellFormedText(payload.sub))
        throw new InvalidTokenError('invalid token: the "sub" claim must be well-formed Unicode');
      // The user's trainer is the stream `trainer-<sub>`, which no event store keys with a NUL:
      // accepted, the user's moves would be answered 202 and then fail in the store.
      if (!hasNoNul(payload.sub))
        throw new InvalidTokenError(
          'invalid token: the "sub" claim must not contain a NUL character',
        );
      // A token "issued" later than now was not issued by this clock: refuse it (jose checks
      // `iat` only with a maximum age).
      if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + CLOCK_SKEW_S)
        throw new InvalidTokenError('invalid token: issued in the future (iat)');
      if (this.maxLifetimeSeconds !== undefined) {
        // Only a token whose life is bounded stops mattering to a revocation (see
        // revocationHorizonMs): one without `iat` could have been issued at any time.
        if (typeof payload.iat !== 'number')
          throw new InvalidTokenError('invalid token: the "iat" claim is required');
        if ((payload.exp as number) - payload.iat > this.maxLifetimeSeconds)
          throw new InvalidTokenError(
            `invalid token: lives ${(payload.exp as number) - payload.iat} s (exp - iat), longer than the ${this.maxLifetimeSeconds} s allowed (JWT_MAX_LIFETIME_S)`,
          );
      }
      const began = use === 'stream' && payload.sit !== undefined ? payload.sit : payload.iat;
      if (began !== undefined && (typeof began !== 'number' || !Number.isFinite(began)))
        throw new InvalidTokenError('invalid token: the "sit" claim must be a number');
      const issuedAt = began === undefined ? undefined : began * 1000;
      const cut = this.revocations?.revokedUntil(payload.sub);
      if (cut !== undefined && TokenService.revokedBy(issuedAt, cut))
        throw new InvalidTokenError('token revoked: sign in again');
      // Absent (or null): none. Anything else not a list of strings was an id dropped silently:
      // the caller was then refused (403) a trainer the token meant to lend, naming the trainer.
      const claimed = payload.trainers ?? [];
      if (!Array.isArray(claimed) || !claimed.every((id) => typeof id === 'string'))
        throw new InvalidTokenError(
          'invalid token: the "trainers" claim must be an array of trainer ids (strings)',
        );
      const trainers = claimed as string[];
      // Ids a trainer can have (contracts' TrainerId), as `sub`: every command endpoint refuses
      // to name another one, so such a claim could only fail later, and less clearly.
      if (!trainers.every((id) => id.length > 0 && id.length <= MAX_USER_ID_LENGTH))
        throw new InvalidTokenError(
          `invalid token: the "trainers" claim must hold ids of 1 to ${MAX_USER_ID_LENGTH} characters`,
        );
      if (!trainers.every(isWellFormedText))
        throw new InvalidTokenError(
          'invalid token: the "trainers" claim must hold well-formed Unicode ids',
        );
      if (!trainers.every(hasNoNul))
        throw new InvalidTokenError(
          'invalid token: the "trainers" claim must hold ids without a NUL character',
        );
      const caller: Caller = { userId: payload.sub, trainerIds: trainers };
      if (issuedAt !== undefined) caller.issuedAt = issuedAt;
      const ends = use === 'stream' ? payload.ses : payload.exp;
      if (ends !== undefined) {
        if (typeof ends !== 'number' || !Number.isFinite(ends))
          throw new InvalidTokenError('invalid token: the "ses" claim must be a number');
        // jose checked `exp`; a stream token's session may have ended before it.
        if (ends * 1000 <= Date.now()) throw new InvalidTokenError('session expired', 'expired');
        caller.expiresAt = ends * 1000;
      }
      return caller;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      if (error instanceof joseErrors.JWTExpired)
        throw new InvalidTokenError('token expired', 'expired');
      if (error instanceof joseErrors.JOSEError)
        throw new InvalidTokenError(`invalid token: ${error.message}`);
      throw new InvalidTokenError('malformed token');
    }
  }

  /**
   * The token's verified claims: remembered from an earlier call (see VERIFIED_KEPT), else
   * verified now. A remembered token is refused once its `exp` has passed, as jose would.
   */
  private async claimsOf(token: string): Promise<JWTPayload> {
    const remembered = this.remembered.get(token);
    if (remembered) {
      if ((remembered.exp as number) <= Math.floor(Date.now() / 1000)) {
        this.remembered.delete(token);
        throw new InvalidTokenError('token expired', 'expired');
      }
      return remembered;
    }
    const { payload } = await this.verified(token);
    if (this.remembered.size >= VERIFIED_KEPT)
      this.remembered.delete(this.remembered.keys().next().value!);
    this.remembered.set(token, payload);
    return payload;
  }

  /**
   * The token's verified claims: checked with the key its `kid` names first, then with the
   * others (a token issued before key ids, or by an issuer with another id scheme).
   */
  private async verified(token: string) {
    const { kid } = decodeProtectedHeader(token);
    const named = typeof kid === 'string' ? this.keys.get(kid) : undefined;
    const keys = named
      ? [named, ...[...this.keys.values()].filter((key) => key !== named)]
      : [...this.keys.values()];
    let refused: unknown;
    for (const key of keys) {
      try {
        return await jwtVerify(token, key, {
          issuer: this.issuer,
          algorithms: ['HS256'],
          requiredClaims: ['sub', 'exp'],
        });
      } catch (error) {
        if (!(error instanceof joseErrors.JWSSignatureVerificationFailed)) throw error;
        refused = error;
      }
    }
    throw refused;
  }

  /**
   * Whether a session that began at `issuedAt` (Caller.issuedAt) is revoked by the cut `cut`:
   * began at or before it, or within REVOCATION_SKEW_MS after it, or at an unknown time.
   */
  static revokedBy(issuedAt: number | undefined, cut: number): boolean {
    return issuedAt === undefined || issuedAt <= cut + REVOCATION_SKEW_MS;
  }

  /** The trainers a caller may move: their own and any listed in the token. */
  static mayMove(caller: Caller, trainerId: string): boolean {
    return caller.userId === trainerId || caller.trainerIds.includes(trainerId);
  }
}

/**
 * Why `id` cannot be a token's `sub` (`kind` 'sub') or one of its `trainers`, as verify judges
 * them; undefined when it can. A `sub` must not be blank, a trainer id not empty.
 */
function idProblem(id: unknown, kind: 'sub' | 'trainer'): string | undefined {
  if (typeof id !== 'string') return `must be a string, got ${typeof id}`;
  if ((kind === 'sub' ? id.trim() : id).length === 0)
    return kind === 'sub' ? 'must not be blank' : 'must not be empty';
  if (id.length > MAX_USER_ID_LENGTH)
    return `must be at most ${MAX_USER_ID_LENGTH} characters, got ${id.length}`;
  if (!isWellFormedText(id)) return 'must be well-formed Unicode (it holds a lone surrogate)';
  if (!hasNoNul(id)) return 'must not contain a NUL character';
  return undefined;
}

/** A key's id: the first 16 base64url characters of a SHA-256 of the secret (not reversible). */
function keyIdOf(secret: string): string {
  return createHash('sha256').update(`causeway-jwt-key:${secret}`).digest('base64url').slice(0, 16);
}

/** Reads `Bearer <token>` from an Authorization header value; undefined when absent or another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
