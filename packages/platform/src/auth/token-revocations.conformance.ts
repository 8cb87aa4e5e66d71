import { type TokenRevocations } from './token-revocations.port';

/**
 * Returns `count` instances over one fresh, empty backend (as many app instances would hold),
 * each keeping cuts `keepMs` (default for ever).
 */
export type TokenRevocationsFactory = (
  count: number,
  options?: { keepMs?: number },
) => Promise<TokenRevocations[]>;

async function until(probe: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The contract of TokenRevocations (see its doc comment), run against every implementation. */
export function describeTokenRevocations(name: string, factory: TokenRevocationsFactory): void {
  describe(`${name} token revocations conformance`, () => {
    const started: TokenRevocations[] = [];
    const make = async (count: number, options?: { keepMs?: number }) => {
      const made = await factory(count, options);
      started.push(...made);
      return made;
    };
    afterEach(async () => {
      await Promise.all(started.splice(0).map((revocations) => revocations.close()));
    });

    it('revokes nothing until told, and is ready once started', async () => {
      const [revocations] = await make(1);
      expect(revocations!.ready).toBe(false);
      await revocations!.start();
      expect(revocations!.ready).toBe(true);
      expect(revocations!.revokedUntil('ash')).toBeUndefined();
    });

    it('reaches every instance: the one that revoked at once, the others soon', async () => {
      const [here, there] = await make(2);
      await Promise.all([here!.start(), there!.start()]);
      await here!.revoke('ash', 1_000);
      expect(here!.revokedUntil('ash')).toBe(1_000);
      await until(() => there!.revokedUntil('ash') === 1_000, 'the other instance');
      expect(there!.revokedUntil('misty')).toBeUndefined();
    });

    it('moves the cut forward only', async () => {
      const [revocations] = await make(1);
      await revocations!.start();
      await revocations!.revoke('ash', 5_000);
      await revocations!.revoke('ash', 2_000);
      expect(revocations!.revokedUntil('ash')).toBe(5_000);
      await revocations!.revoke('ash', 9_000);
      expect(revocations!.revokedUntil('ash')).toBe(9_000);
    });

    it('tells the listeners of every instance when a cut moves forward, and only then', async () => {
      const [here, there] = await make(2);
      const heard: string[][] = [[], []];
      here!.onRevoked((userId, cut, reason) => heard[0]!.push(`${userId}@${cut} ${reason}`));
      there!.onRevoked((userId, cut, reason) => heard[1]!.push(`${userId}@${cut} ${reason}`));
      await Promise.all([here!.start(), there!.start()]);
      await here!.revoke('ash', 4_000, 'account locked');
      await here!.revoke('ash', 3_000);
      await until(() => heard[1]!.length === 1, 'the other instance to hear of it');
      await here!.revoke('ash', 6_000);
      await until(() => heard[0]!.length === 2 && heard[1]!.length === 2, 'the second cut');
      for (const told of heard)
        expect(told).toEqual(['ash@4000 account locked', 'ash@6000 undefined']);
    });

    it('stops telling a listener once it is removed, and only that one', async () => {
      const [here, there] = await make(2);
      const heard: string[] = [];
      const removeFirst = there!.onRevoked((userId) => heard.push(`first ${userId}`));
      there!.onRevoked((userId) => heard.push(`second ${userId}`));
      await Promise.all([here!.start(), there!.start()]);
      await here!.revoke('ash', 1_000);
      await until(() => heard.length === 2, 'both listeners to hear of the first cut');
      removeFirst();
      removeFirst(); // again: harmless
      await here!.revoke('brock', 1_000);
      // Both are told in one go: had the removed one been told, it would be there by now.
      await until(() => heard.includes('second brock'), 'the listener kept to hear of it');
      expect(heard).toEqual(['first ash', 'second ash', 'second brock']);
    });

    it('gives an instance started later the revocations made before', async () => {
      const [early, late] = await make(2);
      await early!.start();
      await early!.revoke('brock', 3_000);
      await late!.start();
      expect(late!.revokedUntil('brock')).toBe(3_000);
    });

    it('revokes up to now when no time is given', async () => {
      const [revocations] = await make(1);
      await revocations!.start();
      const before = Date.now();
      await revocations!.revoke('gary');
      expect(revocations!.revokedUntil('gary')).toBeGreaterThanOrEqual(before);
      expect(revocations!.revokedUntil('gary')).toBeLessThanOrEqual(Date.now());
    });

    it('forgets a cut once it is older than keepMs, everywhere, and an already older one at once', async () => {
      const keepMs = 60_000;
      const [here, there, late] = await make(3, { keepMs });
      await Promise.all([here!.start(), there!.start()]);
      await here!.revoke('ash');
      await here!.revoke('brock', Date.now() - keepMs - 1_000);
      await until(() => there!.revokedUntil('ash') !== undefined, 'the other instance');
      // Every token the older cut revoked has expired: it refuses nothing, so it is not kept.
      for (const revocations of [here!, there!])
        expect(revocations.revokedUntil('brock')).toBeUndefined();
      // An instance started later does not load it either; the fresh cut it does.
      await late!.start();
      expect(late!.revokedUntil('brock')).toBeUndefined();
      expect(late!.revokedUntil('ash')).toBe(here!.revokedUntil('ash'));
      // A cut is forgotten as it ages past keepMs.
      const [brief, briefThere] = await make(2, { keepMs: 2_000 });
      await Promise.all([brief!.start(), briefThere!.start()]);
      await brief!.revoke('misty');
      await until(() => briefThere!.revokedUntil('misty') !== undefined, 'the cut to arrive');
      expect(brief!.revokedUntil('misty')).toBeDefined();
      await until(
        () =>
          brief!.revokedUntil('misty') === undefined &&
          briefThere!.revokedUntil('misty') === undefined,
        'the cut to age past keepMs',
      );
    });
  });
}
