import { type Lease } from '../leases/lease.port';
import { expectRefusal, refusal } from './refusal.expectation';

/**
 * The conformance suite of Lease. `factory(key, ttlMs)` returns a new holder of the lease `key`;
 * holders of one key compete (one suite run per implementation, fresh keys per test).
 */
export function describeLeaseConformance(
  name: string,
  factory: (key: string, ttlMs: number) => Promise<Lease>,
): void {
  describe(`${name} lease conformance`, () => {
    let run = 0;
    const key = () => `lease-${Date.now()}-${run++}`;

    it('is held by one holder at a time and renewed by it', async () => {
      const k = key();
      const a = await factory(k, 60_000);
      const b = await factory(k, 60_000);
      expect(await a.acquire()).toBe(true);
      expect(await b.acquire()).toBe(false);
      expect(await a.acquire()).toBe(true);
      expect(await b.acquire()).toBe(false);
    });

    it('stays with a holder that renews it before it lapses', async () => {
      const k = key();
      const a = await factory(k, 1_000);
      const b = await factory(k, 1_000);
      expect(await a.acquire()).toBe(true);
      // Renewed every 250 ms for well over one ttl: a renewal must extend the lease.
      for (let i = 0; i < 10; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        expect(await a.acquire()).toBe(true);
        expect(await b.acquire()).toBe(false);
      }
    });

    it('lets exactly one of many racing holders win', async () => {
      const k = key();
      const holders = await Promise.all(Array.from({ length: 10 }, () => factory(k, 60_000)));
      const won = await Promise.all(holders.map((holder) => holder.acquire()));
      expect(won.filter(Boolean)).toHaveLength(1);
    });

    it('passes to another holder after a release, and a release by a non-holder changes nothing', async () => {
      const k = key();
      const a = await factory(k, 60_000);
      const b = await factory(k, 60_000);
      await a.acquire();
      await b.release();
      expect(await b.acquire()).toBe(false);
      await a.release();
      expect(await b.acquire()).toBe(true);
      expect(await a.acquire()).toBe(false);
    });

    it('lapses when it is not renewed', async () => {
      const k = key();
      const a = await factory(k, 150);
      const b = await factory(k, 150);
      expect(await a.acquire()).toBe(true);
      const deadline = Date.now() + 5_000;
      let taken = false;
      while (!taken && Date.now() < deadline) {
        taken = await b.acquire();
        if (!taken) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(taken).toBe(true);
      expect(await a.acquire()).toBe(false);
    });

    it('refuses, when built, a ttlMs that is not a positive integer number of ms', async () => {
      for (const bad of [0, -5, 1500.5, Number.NaN, Number.POSITIVE_INFINITY, 1e16])
        expectRefusal(
          await refusal(factory(key(), bad)),
          RangeError,
          `lease ttlMs must be a positive integer number of milliseconds (at most ${Number.MAX_SAFE_INTEGER}), got ${bad}`,
        );
      await expect(factory(key(), '1000' as unknown as number)).rejects.toThrow(TypeError);
      const largest = await factory(key(), 2 ** 31);
      expect(await largest.acquire()).toBe(true);
      await largest.release();
    });
  });
}
