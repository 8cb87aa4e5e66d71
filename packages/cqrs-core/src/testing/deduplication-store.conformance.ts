import { type DeduplicationStore } from '../middleware/deduplication-store.port';
import { expectRefusal, refusal } from './refusal.expectation';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The conformance suite of deduplication stores (in-memory, Redis). `factory` returns a store
 * over fresh, empty state; `peer`, when given, returns a second store over the same state (as
 * another process would hold) for the cross-instance cases.
 */
export function describeDeduplicationStoreConformance(
  name: string,
  factory: () => Promise<DeduplicationStore>,
  peer?: (store: DeduplicationStore) => Promise<DeduplicationStore>,
): void {
  describe(`${name} deduplication store conformance`, () => {
    let store: DeduplicationStore;
    let other: DeduplicationStore;
    beforeEach(async () => {
      store = await factory();
      other = peer ? await peer(store) : store;
    });

    it('lets one claim win among concurrent ones, the others see busy, then done', async () => {
      const claims = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? other : store).claim('g:m1', 5_000)),
      );
      const winners = claims.filter((c) => c.state === 'claimed');
      expect(winners).toHaveLength(1);
      expect(claims.filter((c) => c.state === 'busy')).toHaveLength(9);
      const token = (winners[0] as { token: string }).token;
      await other.complete('g:m1', token, 5_000);
      expect(await other.claim('g:m1', 5_000)).toEqual({ state: 'done' });
      expect(await store.claim('g:m1', 5_000)).toEqual({ state: 'done' });
    });

    it('remembers the result a key was completed with, byte for byte', async () => {
      const result = JSON.stringify({ x: 3, name: 'Zoë 🚀', nested: { deep: [1, null, 'done:'] } });
      const claim = await store.claim('g:r', 5_000);
      if (claim.state !== 'claimed') throw new Error(`claimed expected, got ${claim.state}`);
      await store.complete('g:r', claim.token, 5_000, result);
      expect(await other.claim('g:r', 5_000)).toEqual({ state: 'done', result });
      const empty = await store.claim('g:e', 5_000);
      if (empty.state !== 'claimed') throw new Error(`claimed expected, got ${empty.state}`);
      await store.complete('g:e', empty.token, 5_000, '');
      expect(await other.claim('g:e', 5_000)).toEqual({ state: 'done', result: '' });
    });

    it("ignores a complete or release that does not hold the claim's token", async () => {
      const claim = await store.claim('g:t', 5_000);
      if (claim.state !== 'claimed') throw new Error(`claimed expected, got ${claim.state}`);
      await other.release('g:t', 'not-the-token');
      await other.complete('g:t', 'not-the-token', 5_000, '"forged"');
      expect(await other.claim('g:t', 5_000)).toEqual({ state: 'busy' });
      await store.release('g:t', claim.token);
      expect((await other.claim('g:t', 5_000)).state).toBe('claimed');
      // Released, then claimed by another: the late complete is refused.
      expect(await store.complete('g:t', claim.token, 5_000, '"late"')).toBe(false);
      expect(await store.claim('g:t', 5_000)).toEqual({ state: 'busy' });
    });

    it('keeps the outcome of a claim that lapsed unless another claimant took the key, and says which', async () => {
      const slow = await store.claim('g:lapsed', 100);
      if (slow.state !== 'claimed') throw new Error(`claimed expected, got ${slow.state}`);
      await wait(150); // its holder paused past the lease; nobody claimed the key meanwhile
      expect(await store.complete('g:lapsed', slow.token, 5_000, '"slow"')).toBe(true);
      expect(await other.claim('g:lapsed', 5_000)).toEqual({ state: 'done', result: '"slow"' });

      const late = await store.claim('g:taken', 100);
      if (late.state !== 'claimed') throw new Error(`claimed expected, got ${late.state}`);
      await wait(150);
      const next = await other.claim('g:taken', 5_000);
      if (next.state !== 'claimed') throw new Error(`claimed expected, got ${next.state}`);
      expect(await store.complete('g:taken', late.token, 5_000, '"late"')).toBe(false);
      expect(await store.claim('g:taken', 5_000)).toEqual({ state: 'busy' });
      expect(await other.complete('g:taken', next.token, 5_000, '"next"')).toBe(true);
      expect(await store.complete('g:taken', late.token, 5_000, '"late"')).toBe(false); // done
      expect(await store.claim('g:taken', 5_000)).toEqual({ state: 'done', result: '"next"' });
    });

    it('frees a claim whose holder died once its lease ends', async () => {
      expect((await store.claim('g:l', 100)).state).toBe('claimed');
      expect((await other.claim('g:l', 100)).state).toBe('busy');
      await wait(150);
      expect((await other.claim('g:l', 5_000)).state).toBe('claimed');
    });

    it('renews only its own claim, which then outlives its first lease', async () => {
      const claim = await store.claim('g:renew', 150);
      if (claim.state !== 'claimed') throw new Error(`claimed expected, got ${claim.state}`);
      if (!store.renew) return expect(store.renew).toBeDefined();
      expect(await other.renew!('g:renew', 'not-the-token', 5_000)).toBe(false);
      expect(await store.renew('g:renew', claim.token, 5_000)).toBe(true);
      await wait(250);
      expect(await other.claim('g:renew', 5_000)).toEqual({ state: 'busy' });
      await store.complete('g:renew', claim.token, 5_000);
      expect(await store.renew('g:renew', claim.token, 5_000)).toBe(false); // done: not a claim
      expect(await other.claim('g:renew', 5_000)).toEqual({ state: 'done' });
    });

    it('forgets a handled key once its ttl ends, and keeps keys apart', async () => {
      const claim = await store.claim('g:ttl', 5_000);
      if (claim.state !== 'claimed') throw new Error(`claimed expected, got ${claim.state}`);
      await store.complete('g:ttl', claim.token, 100, '1');
      expect((await store.claim('g:ttl2', 5_000)).state).toBe('claimed');
      expect(await other.claim('g:ttl', 5_000)).toEqual({ state: 'done', result: '1' });
      await wait(150);
      expect((await other.claim('g:ttl', 5_000)).state).toBe('claimed');
    });

    it('refuses a lease or ttl that is not a positive integer number of ms, changing nothing', async () => {
      for (const bad of [0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])
        expectRefusal(
          await refusal(store.claim('g:bad', bad)),
          RangeError,
          `leaseMs must be ${POSITIVE_MS}, got ${bad}`,
        );
      expectRefusal(
        await refusal(store.claim('g:bad', '100' as unknown as number)),
        TypeError,
        `leaseMs must be ${POSITIVE_MS}, got "100"`,
      );
      const claim = await store.claim('g:bad', 5_000);
      if (claim.state !== 'claimed') throw new Error(`claimed expected, got ${claim.state}`);
      for (const bad of [0, -5, 1000.5, Number.NaN, Number.POSITIVE_INFINITY])
        expectRefusal(
          await refusal(store.complete('g:bad', claim.token, bad, '1')),
          RangeError,
          `ttlMs must be ${POSITIVE_MS}, got ${bad}`,
        );
      expectRefusal(
        await refusal(store.complete('g:bad', claim.token, undefined as unknown as number)),
        TypeError,
        `ttlMs must be ${POSITIVE_MS}, got undefined`,
      );
      expect(await other.claim('g:bad', 5_000)).toEqual({ state: 'busy' });
      await store.complete('g:bad', claim.token, 5_000, '1');
      expect(await other.claim('g:bad', 5_000)).toEqual({ state: 'done', result: '1' });
    });
  });
}

const POSITIVE_MS = `a positive integer number of milliseconds (at most ${Number.MAX_SAFE_INTEGER})`;
