import { InMemoryEventStore } from '@causeway/cqrs-core';
import { SignJWT } from 'jose';
import { InMemoryTokenRevocations } from './in-memory.token-revocations';
import {
  InvalidTokenError,
  bearerChallenge,
  MAX_TOKEN_TRAINERS,
  REVOCATION_SKEW_MS,
  TokenService,
  bearerToken,
} from './token.service';

describe('TokenService', () => {
  const secret = 'a-test-secret-that-is-long-enough-123';
  const tokens = new TokenService({ secret });

  it('issues access tokens whose caller is the subject, with the trainers it may move', async () => {
    const { token } = await tokens.issue('ash', { trainerIds: ['pikachu'] });
    const caller = await tokens.verify(token);
    expect(caller).toMatchObject({ userId: 'ash', trainerIds: ['pikachu'] });
    expect(TokenService.mayMove(caller, 'ash')).toBe(true);
    expect(TokenService.mayMove(caller, 'pikachu')).toBe(true);
    expect(TokenService.mayMove(caller, 'misty')).toBe(false);
  });

  it('refuses a stream token where an access token is required and the other way round', async () => {
    const stream = await tokens.issue('ash', { use: 'stream' });
    await expect(tokens.verify(stream.token)).rejects.toThrow(/"stream" token/);
    await expect(tokens.verify(stream.token, 'stream')).resolves.toMatchObject({ userId: 'ash' });
    const access = await tokens.issue('ash');
    await expect(tokens.verify(access.token, 'stream')).rejects.toThrow(InvalidTokenError);
  });

  it('gives stream tokens a short lifetime whatever is asked', async () => {
    const { expiresAt } = await tokens.issue('ash', { use: 'stream', ttlSeconds: 86_400 });
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(60_000);
  });

  it("ends a caller's session when the access token expires", async () => {
    const { token, expiresAt } = await tokens.issue('ash', { ttlSeconds: 120 });
    expect((await tokens.verify(token)).expiresAt).toBe(expiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan(118_000);
  });

  it('gives a stream token the session of the access token it was issued for', async () => {
    const access = await tokens.issue('ash', { ttlSeconds: 600 });
    const session = (await tokens.verify(access.token)).expiresAt!;
    const stream = await tokens.issue('ash', { use: 'stream', sessionExpiresAt: session });
    expect((await tokens.verify(stream.token, 'stream')).expiresAt).toBe(session);
    // The stream token's own lifetime stays short, and never outlives the session.
    expect(stream.expiresAt - Date.now()).toBeLessThanOrEqual(60_000);
    const ending = await tokens.issue('ash', {
      use: 'stream',
      sessionExpiresAt: Date.now() + 20_000,
    });
    expect(ending.expiresAt - Date.now()).toBeLessThanOrEqual(20_000);
    // A stream token issued without a session (before the claim existed) has no end of its own.
    const bare = await tokens.issue('ash', { use: 'stream' });
    expect((await tokens.verify(bare.token, 'stream')).expiresAt).toBeUndefined();
  });

  it('revokes a stream token with the session it was issued for, not by its own later iat', async () => {
    const revocations = new InMemoryTokenRevocations();
    const guarded = new TokenService({ secret, revocations });
    const now = Math.floor(Date.now() / 1000);
    // An access token issued 100 s ago; the user is revoked as of 90 s ago (its session then).
    const access = await new SignJWT({ use: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ash')
      .setIssuer('causeway')
      .setIssuedAt(now - 100)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(secret));
    const caller = await guarded.verify(access);
    expect(caller.issuedAt).toBe((now - 100) * 1000);
    const stream = await guarded.issue('ash', {
      use: 'stream',
      sessionIssuedAt: caller.issuedAt,
      sessionExpiresAt: caller.expiresAt,
    });
    expect(await guarded.verify(stream.token, 'stream')).toMatchObject({
      issuedAt: (now - 100) * 1000,
    });
    await revocations.revoke('ash', (now - 90) * 1000);
    // Its own `iat` is now, past the cut and its allowance; its session's is not.
    await expect(guarded.verify(stream.token, 'stream')).rejects.toThrow('token revoked');
  });

  it('refuses a stream token whose session ended, or whose session is not a number', async () => {
    const sign = (ses: unknown) =>
      new SignJWT({ use: 'stream', ses })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('ash')
        .setIssuer('causeway')
        .setExpirationTime(Math.floor(Date.now() / 1000) + 60)
        .sign(new TextEncoder().encode(secret));
    const ended = await sign(Math.floor(Date.now() / 1000) - 1);
    await expect(tokens.verify(ended, 'stream')).rejects.toMatchObject({
      message: 'session expired',
      refusal: 'expired',
    });
    await expect(tokens.verify(await sign('tomorrow'), 'stream')).rejects.toMatchObject({
      message: expect.stringContaining('"ses"'),
      refusal: 'invalid',
    });
  });

  it("refuses a revoked user's tokens issued up to the cut, and passes later ones", async () => {
    const revocations = new InMemoryTokenRevocations();
    const guarded = new TokenService({ secret, revocations });
    const before = await guarded.issue('ash');
    const stream = await guarded.issue('ash', { use: 'stream' });
    const other = await guarded.issue('misty');
    await revocations.revoke('ash');
    for (const [token, use] of [
      [before.token, 'access'],
      [stream.token, 'stream'],
    ] as const)
      await expect(guarded.verify(token, use)).rejects.toMatchObject({
        message: 'token revoked: sign in again',
        refusal: 'invalid',
      });
    await expect(guarded.verify(other.token)).resolves.toMatchObject({ userId: 'misty' });
    // A token issued more than the clock allowance (60 s) after the cut passes; one issued
    // within it is refused, as it may come from an issuer whose clock runs ahead.
    const signedAt = (iat: number) =>
      new SignJWT({ use: 'access' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('gary')
        .setIssuer('causeway')
        .setIssuedAt(iat)
        .setExpirationTime(Math.floor(Date.now() / 1000) + 60)
        .sign(new TextEncoder().encode(secret));
    const now = Math.floor(Date.now() / 1000);
    await revocations.revoke('gary', (now - 120) * 1000);
    await expect(guarded.verify(await signedAt(now))).resolves.toMatchObject({
      userId: 'gary',
      issuedAt: now * 1000,
    });
    await expect(guarded.verify(await signedAt(now - 61))).rejects.toThrow('token revoked');
    expect(TokenService.revokedBy(undefined, 0)).toBe(true);
    expect(TokenService.revokedBy(REVOCATION_SKEW_MS, 0)).toBe(true);
    expect(TokenService.revokedBy(REVOCATION_SKEW_MS + 1, 0)).toBe(false);
    // Without an `iat` a token cannot be placed after the cut: refused.
    const undated = await new SignJWT({ use: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ash')
      .setIssuer('causeway')
      .setExpirationTime(Math.floor(Date.now() / 1000) + 60)
      .sign(new TextEncoder().encode(secret));
    await expect(guarded.verify(undated)).rejects.toThrow('token revoked');
  });

  it('with a longest lifetime, refuses tokens living longer or without iat, and cuts what it issues', async () => {
    const bounded = new TokenService({ secret, maxLifetimeSeconds: 3_600 });
    const now = Math.floor(Date.now() / 1000);
    const signed = (iat: number | undefined, exp: number) => {
      const jwt = new SignJWT({ use: 'access' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('ash')
        .setIssuer('causeway')
        .setExpirationTime(exp);
      return (iat === undefined ? jwt : jwt.setIssuedAt(iat)).sign(
        new TextEncoder().encode(secret),
      );
    };
    await expect(bounded.verify(await signed(now - 10, now - 10 + 3_600))).resolves.toMatchObject({
      userId: 'ash',
    });
    await expect(bounded.verify(await signed(now - 10, now - 10 + 3_601))).rejects.toMatchObject({
      message:
        'invalid token: lives 3601 s (exp - iat), longer than the 3600 s allowed (JWT_MAX_LIFETIME_S)',
      refusal: 'invalid',
    });
    await expect(bounded.verify(await signed(undefined, now + 60))).rejects.toThrow(
      'invalid token: the "iat" claim is required',
    );
    // Unbounded, as before: both pass.
    await expect(tokens.verify(await signed(now, now + 7_200))).resolves.toBeDefined();
    await expect(tokens.verify(await signed(undefined, now + 60))).resolves.toBeDefined();
    // What it issues lives at most that long, whatever is asked, and verifies.
    const issued = await bounded.issue('ash', { ttlSeconds: 86_400 });
    expect(issued.expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(issued.expiresAt).toBeGreaterThan(Date.now() + 3_590_000);
    await expect(bounded.verify(issued.token)).resolves.toMatchObject({ userId: 'ash' });
    // How long a revocation matters: the lifetime, a stream token's, twice the clock allowance.
    expect(TokenService.revocationHorizonMs(3_600)).toBe(
      (3_600 + 60) * 1000 + 2 * REVOCATION_SKEW_MS,
    );
    expect(() => new TokenService({ secret, maxLifetimeSeconds: 30 })).toThrow(
      'JWT_MAX_LIFETIME_S (30 s) must be at least the stream token lifetime (60 s)',
    );
  });

  it('rejects tokens signed with another secret, expired, or malformed', async () => {
    const other = new TokenService({ secret: 'another-secret-that-is-long-enough-456' });
    await expect(tokens.verify((await other.issue('ash')).token)).rejects.toThrow(
      /signature verification failed/i,
    );
    const expired = await new SignJWT({ use: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ash')
      .setIssuer('causeway')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(new TextEncoder().encode(secret));
    await expect(tokens.verify(expired)).rejects.toThrow('token expired');
    await expect(tokens.verify(expired)).rejects.toMatchObject({ refusal: 'expired' });
    await expect(tokens.verify('not.a.jwt')).rejects.toThrow(InvalidTokenError);
    await expect(tokens.verify('not.a.jwt')).rejects.toMatchObject({ refusal: 'invalid' });
    await expect(tokens.verify((await other.issue('ash')).token)).rejects.toMatchObject({
      refusal: 'invalid',
    });
  });

  it('refuses a token addressed to an audience (aud): this service is none (RFC 7519 4.1.3)', async () => {
    // Signed with the right secret and issuer, but for another service sharing them: a token
    // minted for "billing" must not act as its user here.
    const now = Math.floor(Date.now() / 1000);
    for (const aud of ['billing', ['billing', 'reports']]) {
      const token = await new SignJWT({ use: 'access' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('ash')
        .setIssuer('causeway')
        .setAudience(aud)
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(new TextEncoder().encode(secret));
      await expect(tokens.verify(token)).rejects.toThrow(/"aud" claim/);
      await expect(tokens.verify(token)).rejects.toMatchObject({ refusal: 'invalid' });
    }
  });

  it('refuses a token it verified before once it expires, and any change to it', async () => {
    jest.useFakeTimers({
      now: Date.now(),
      doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'],
    });
    try {
      const { token } = await tokens.issue('ash', { ttlSeconds: 60 });
      await expect(tokens.verify(token)).resolves.toMatchObject({ userId: 'ash' });
      await expect(tokens.verify(token)).resolves.toMatchObject({ userId: 'ash' });
      // The same signature over other claims (another user): not the token verified before.
      const [header, , signature] = token.split('.');
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
      const altered = Buffer.from(JSON.stringify({ ...claims, sub: 'misty' })).toString(
        'base64url',
      );
      await expect(tokens.verify(`${header}.${altered}.${signature}`)).rejects.toThrow(
        /signature verification failed/i,
      );
      jest.setSystemTime(Date.now() + 60_000);
      await expect(tokens.verify(token)).rejects.toMatchObject({
        message: 'token expired',
        refusal: 'expired',
      });
    } finally {
      jest.useRealTimers();
    }
  });

  it('verifies tokens of the previous secret during a rotation, and signs with the new one', async () => {
    const previous = secret;
    const next = 'the-next-secret-that-is-long-enough-789';
    const before = new TokenService({ secret: previous });
    const rotated = new TokenService({ secret: next, previousSecrets: [previous] });
    const oldToken = (await before.issue('ash')).token;
    // An old token (and one from before key ids) keeps working until it expires...
    expect(await rotated.verify(oldToken)).toMatchObject({ userId: 'ash' });
    const noKeyId = await new SignJWT({ use: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ash')
      .setIssuer('causeway')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(previous));
    expect(await rotated.verify(noKeyId)).toMatchObject({ userId: 'ash' });
    // ...new ones are signed with the new secret: the instances not yet rotated refuse them,
    // the rotated ones and those rotated later accept them.
    const newToken = (await rotated.issue('ash')).token;
    await expect(before.verify(newToken)).rejects.toThrow(/signature verification failed/i);
    expect(await new TokenService({ secret: next }).verify(newToken)).toMatchObject({
      userId: 'ash',
    });
    // Once the previous secret is dropped, its tokens are refused.
    await expect(new TokenService({ secret: next }).verify(oldToken)).rejects.toMatchObject({
      refusal: 'invalid',
    });
    // A key id names a digest of the secret, never the secret.
    const header = JSON.parse(Buffer.from(newToken.split('.')[0]!, 'base64url').toString());
    expect(header.kid).toMatch(/^[\w-]{16}$/);
    expect(newToken).not.toContain(Buffer.from(next).toString('base64url').slice(0, 12));
    expect(() => new TokenService({ secret: next, previousSecrets: [previous, 'short'] })).toThrow(
      'JWT_PREVIOUS_SECRETS: secret 2 must be at least 32 characters',
    );
  });

  it('refuses a token issued in the future or naming an over-long user', async () => {
    const key = new TextEncoder().encode(secret);
    const now = Math.floor(Date.now() / 1000);
    const sign = (sub: string, iat: number) =>
      new SignJWT({ use: 'access' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(sub)
        .setIssuer('causeway')
        .setIssuedAt(iat)
        .setExpirationTime(now + 3600)
        .sign(key);
    await expect(tokens.verify(await sign('ash', now + 10 * 365 * 86_400))).rejects.toThrow(
      'invalid token: issued in the future (iat)',
    );
    // A little clock skew is tolerated.
    await expect(tokens.verify(await sign('ash', now + 30))).resolves.toMatchObject({
      userId: 'ash',
    });
    // As long as a trainer's id may be: a user the tokens accept can command their trainer.
    await expect(tokens.verify(await sign('x'.repeat(129), now))).rejects.toThrow(
      'the "sub" claim must be at most 128 characters',
    );
    // Stored as UTF-8 (Redis keys), 'x\ud800' would be the same user as 'x\uFFFD'.
    await expect(tokens.verify(await sign('x\ud800', now))).rejects.toThrow(
      'invalid token: the "sub" claim must be well-formed Unicode',
    );
    await expect(tokens.verify(await sign('x\uFFFD', now))).resolves.toMatchObject({
      userId: 'x\uFFFD',
    });
    const lending = await new SignJWT({ use: 'access', trainers: ['misty', 'y\udc00'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ash')
      .setIssuer('causeway')
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(key);
    await expect(tokens.verify(lending)).rejects.toThrow(
      'invalid token: the "trainers" claim must hold well-formed Unicode ids',
    );
    await expect(tokens.verify(await sign('x'.repeat(128), now))).resolves.toMatchObject({
      userId: 'x'.repeat(128),
    });
  });

  it('refuses a token whose trainers claim holds an id no trainer can have (empty, over 128 characters)', async () => {
    const key = new TextEncoder().encode(secret);
    const now = Math.floor(Date.now() / 1000);
    const lending = (trainers: string[]) =>
      new SignJWT({ use: 'access', trainers })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('ash')
        .setIssuer('causeway')
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(key);
    // As the README says of `sub` and `trainers` alike: a 401 `invalid`, not a caller who may
    // move a trainer every command endpoint refuses to name (TrainerId).
    for (const trainer of ['x'.repeat(129), ''])
      await expect(tokens.verify(await lending(['misty', trainer]))).rejects.toThrow(
        new InvalidTokenError(
          'invalid token: the "trainers" claim must hold ids of 1 to 128 characters',
        ),
      );
    await expect(tokens.verify(await lending(['misty', 'x'.repeat(128)]))).resolves.toMatchObject({
      trainerIds: ['misty', 'x'.repeat(128)],
    });
  });

  it('refuses a token whose trainers claim is not an array of strings, rather than dropping ids', async () => {
    const key = new TextEncoder().encode(secret);
    const now = Math.floor(Date.now() / 1000);
    const lending = (claims: Record<string, unknown>) =>
      new SignJWT({ use: 'access', ...claims })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('ash')
        .setIssuer('causeway')
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(key);
    // A number among the ids, or one id not in a list, was dropped: the user was then refused
    // (403) a trainer the token meant to lend them, with nothing saying the token was wrong.
    for (const trainers of [['misty', 7], 'misty', { id: 'misty' }, ['misty', null]])
      await expect(tokens.verify(await lending({ trainers }))).rejects.toThrow(
        new InvalidTokenError(
          'invalid token: the "trainers" claim must be an array of trainer ids (strings)',
        ),
      );
    // Without the claim (or null), the caller moves their own trainer only.
    for (const claims of [{}, { trainers: null }])
      await expect(tokens.verify(await lending(claims))).resolves.toMatchObject({
        userId: 'ash',
        trainerIds: [],
      });
  });

  it("refuses a token whose user or trainers hold a NUL: no store can key that user's trainer", async () => {
    // Signed with the right secret (elsewhere: issue refuses such ids); the id is what is wrong.
    const key = new TextEncoder().encode(secret);
    const now = Math.floor(Date.now() / 1000);
    const signed = (sub: string, trainers: string[]) =>
      new SignJWT({ use: 'access', trainers })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(sub)
        .setIssuer('causeway')
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(key);
    await expect(tokens.verify(await signed('a\u0000b', []))).rejects.toThrow(
      new InvalidTokenError('invalid token: the "sub" claim must not contain a NUL character'),
    );
    await expect(tokens.verify(await signed('ash', ['misty', 'b\u0000']))).rejects.toThrow(
      'invalid token: the "trainers" claim must hold ids without a NUL character',
    );
    // What a verified token names is a usable trainer stream.
    const caller = await tokens.verify((await tokens.issue('ash\u00a0b')).token);
    await expect(new InMemoryEventStore().readStream(`trainer-${caller.userId}`)).resolves.toEqual(
      [],
    );
  });

  it('signs no token verify would refuse: a user or trainer id it names as the problem', async () => {
    // Such a token was signed, then answered 401 at its first use (session 43).
    const refusals: [string, { trainerIds?: string[] }, string][] = [
      ['', {}, 'TokenService.issue: userId must not be blank'],
      ['  ', {}, 'TokenService.issue: userId must not be blank'],
      ['x'.repeat(129), {}, 'TokenService.issue: userId must be at most 128 characters, got 129'],
      ['a\u0000b', {}, 'TokenService.issue: userId must not contain a NUL character'],
      ['\ud800', {}, 'TokenService.issue: userId must be well-formed Unicode'],
      [
        'ash',
        { trainerIds: ['misty', ''] },
        'TokenService.issue: options.trainerIds[1] must not be empty',
      ],
      [
        'ash',
        { trainerIds: ['x'.repeat(129)] },
        'TokenService.issue: options.trainerIds[0] must be at most 128 characters, got 129',
      ],
      [
        'ash',
        { trainerIds: ['b\u0000'] },
        'TokenService.issue: options.trainerIds[0] must not contain a NUL character',
      ],
    ];
    for (const [userId, options, message] of refusals)
      await expect(tokens.issue(userId, options)).rejects.toThrow(message);
    // The longest ids verify accepts are signed.
    const longest = 'x'.repeat(128);
    const { token } = await tokens.issue(longest, { trainerIds: [longest, ' '] });
    await expect(tokens.verify(token)).resolves.toMatchObject({
      userId: longest,
      trainerIds: [longest, ' '],
    });
  });

  it('refuses trainerIds that are not an array, naming the option, and signs nothing', async () => {
    // A string (one id, or a list joined by commas) was spread into one trainer per character
    // ('misty' lent m, i, s, t and y); a review of session 43 saw it fail as "forEach is not a
    // function" once issue checked each id.
    for (const [trainerIds, shown] of [
      ['misty', 'string'],
      [{ 0: 'misty' }, 'object'],
    ] as const)
      await expect(
        tokens.issue('ash', { trainerIds: trainerIds as unknown as string[] }),
      ).rejects.toThrow(
        new TypeError(
          `TokenService.issue: options.trainerIds must be an array of ids, got ${shown}`,
        ),
      );
  });

  it('refuses more trainer ids than MAX_TOKEN_TRAINERS, naming the limit, and signs the most', async () => {
    // Uncapped, a token for many long ids outgrew what a server takes in a header (Node's 16 KB):
    // it was signed, then answered 431 at every use.
    const ids = (count: number) =>
      Array.from({ length: count }, (_, i) => `${'t'.repeat(124)}${1000 + i}`);
    expect(MAX_TOKEN_TRAINERS).toBe(32);
    await expect(tokens.issue('ash', { trainerIds: ids(33) })).rejects.toThrow(
      new TypeError(
        'TokenService.issue: options.trainerIds holds 33 ids, at most 32 (MAX_TOKEN_TRAINERS)',
      ),
    );
    const { token } = await tokens.issue('ash', { trainerIds: ids(32) });
    await expect(tokens.verify(token)).resolves.toMatchObject({ trainerIds: ids(32) });
    // A stream token copies a verified session's trainers (signed elsewhere, perhaps more).
    const stream = await tokens.issue('ash', { use: 'stream', trainerIds: ids(33) });
    await expect(tokens.verify(stream.token, 'stream')).resolves.toMatchObject({
      trainerIds: ids(33),
    });
  });

  it('challenges with the realm alone, or with invalid_token and why once a token was presented', () => {
    expect(bearerChallenge()).toBe('Bearer realm="causeway"');
    expect(bearerChallenge('expired')).toBe(
      'Bearer realm="causeway", error="invalid_token", error_description="the token expired"',
    );
    expect(bearerChallenge('invalid')).toBe(
      'Bearer realm="causeway", error="invalid_token", error_description="the token is not valid"',
    );
  });

  it.each([
    ['a number', 123],
    ['empty', ''],
    ['blank', '  '],
  ])('refuses a correctly signed token whose sub is %s', async (_, sub) => {
    const token = await new SignJWT({ use: 'access', sub } as Record<string, unknown>)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('causeway')
      .setExpirationTime(Math.floor(Date.now() / 1000) + 60)
      .sign(new TextEncoder().encode(secret));
    await expect(tokens.verify(token)).rejects.toThrow(
      'the "sub" claim must be a non-empty string',
    );
  });

  it('refuses a short secret at construction', () => {
    expect(() => new TokenService({ secret: 'short' })).toThrow(/at least 32/);
  });

  it('reads bearer tokens only', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
