import { type PresenceRegistry } from './presence-registry.port';

/** Returns a fresh, empty registry whose instances expire `ttlMs` after their last heartbeat. */
export type PresenceRegistryFactory = (options: { ttlMs: number }) => Promise<PresenceRegistry>;

async function until(
  probe: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Runs `scenario` on a fresh registry whose TTL is `ttlMs`, and again with twice the TTL (four
 * runs at most) while it returns false: an instance it kept beating expired as well (its
 * heartbeat said so), this machine having stalled longer than the TTL between two beats. A
 * loaded CI machine stalls for 300 ms; an idle one runs the scenario once.
 */
async function withLiveInstance(
  factory: PresenceRegistryFactory,
  ttlMs: number,
  scenario: (presence: PresenceRegistry) => Promise<boolean>,
): Promise<void> {
  for (let run = 0; run < 4; run++, ttlMs *= 2)
    if (await scenario(await factory({ ttlMs }))) return;
  throw new Error(`a beating instance expired in each of 4 runs, the last with ttlMs ${ttlMs / 2}`);
}

/** Beats for `live` until `dead`, which does not beat, is listed no more; false if `live` expired. */
async function beatUntilExpired(
  presence: PresenceRegistry,
  live: string,
  dead: string,
): Promise<boolean> {
  let stayed = true;
  await until(async () => {
    stayed &&= await presence.heartbeat(live);
    const servers = (await presence.list()).map((instance) => instance.serverId);
    return !servers.includes(dead);
  }, `${dead} to expire`);
  return stayed;
}

/** The contract of PresenceRegistry (see its doc comment), run against every implementation. */
export function describePresenceRegistry(name: string, factory: PresenceRegistryFactory): void {
  describe(`${name} presence registry conformance`, () => {
    const hour = 3_600_000;

    it('lists the connections of live instances, sorted', async () => {
      const presence = await factory({ ttlMs: hour });
      expect(await presence.list()).toEqual([]);
      expect(await presence.heartbeat('gw-b')).toBe(false);
      expect(await presence.heartbeat('gw-a')).toBe(false);
      await presence.add('gw-b', { connectionId: 'c3', userId: 'misty', connectedAt: 30 });
      await presence.add('gw-a', { connectionId: 'c2', userId: 'ash', connectedAt: 20 });
      await presence.add('gw-a', { connectionId: 'c1', userId: 'ash', connectedAt: 10 });
      expect(await presence.list()).toEqual([
        {
          serverId: 'gw-a',
          connections: [
            { connectionId: 'c1', userId: 'ash', connectedAt: 10 },
            { connectionId: 'c2', userId: 'ash', connectedAt: 20 },
          ],
        },
        {
          serverId: 'gw-b',
          connections: [{ connectionId: 'c3', userId: 'misty', connectedAt: 30 }],
        },
      ]);
      expect(await presence.heartbeat('gw-a')).toBe(true);
    });

    it("keeps the trainers an entry's token lets it move, through add and replace", async () => {
      const presence = await factory({ ttlMs: hour });
      const boss = { connectionId: 'c1', userId: 'boss', connectedAt: 1, trainerIds: ['onix'] };
      const misty = { connectionId: 'c2', userId: 'misty', connectedAt: 2 };
      await presence.replace('gw-a', [boss]);
      await presence.add('gw-a', { ...boss, connectionId: 'c3', connectedAt: 3 });
      await presence.add('gw-a', misty);
      expect(await presence.list()).toEqual([
        {
          serverId: 'gw-a',
          connections: [boss, misty, { ...boss, connectionId: 'c3', connectedAt: 3 }],
        },
      ]);
    });

    it('removes one connection, and an unknown one harmlessly', async () => {
      const presence = await factory({ ttlMs: hour });
      await presence.heartbeat('gw-a');
      await presence.add('gw-a', { connectionId: 'c1', userId: 'ash', connectedAt: 1 });
      await presence.add('gw-a', { connectionId: 'c2', userId: 'brock', connectedAt: 2 });
      await presence.remove('gw-a', 'c1');
      await presence.remove('gw-a', 'nope');
      await presence.remove('gw-z', 'nope');
      expect(await presence.list()).toEqual([
        {
          serverId: 'gw-a',
          connections: [{ connectionId: 'c2', userId: 'brock', connectedAt: 2 }],
        },
      ]);
    });

    it('replaces the connections of an instance at once, returning the ones it dropped', async () => {
      const presence = await factory({ ttlMs: hour });
      const c1 = { connectionId: 'c1', userId: 'ash', connectedAt: 1 };
      const c2 = { connectionId: 'c2', userId: 'misty', connectedAt: 2 };
      const c3 = { connectionId: 'c3', userId: 'brock', connectedAt: 3 };
      await presence.heartbeat('gw-a');
      await presence.add('gw-a', c1);
      await presence.add('gw-a', c2);
      await presence.heartbeat('gw-b');
      await presence.add('gw-b', c3);
      const c4 = { connectionId: 'c4', userId: 'ash', connectedAt: 4 };
      expect(await presence.replace('gw-a', [c2, c4])).toEqual({ dropped: [c1], swept: [] });
      expect(await presence.list()).toEqual([
        { serverId: 'gw-a', connections: [c2, c4] },
        { serverId: 'gw-b', connections: [c3] },
      ]);
      const { dropped } = await presence.replace('gw-a', []);
      expect(dropped.sort((a, b) => a.connectedAt - b.connectedAt)).toEqual([c2, c4]);
      expect(await presence.list()).toEqual([
        { serverId: 'gw-a', connections: [] },
        { serverId: 'gw-b', connections: [c3] },
      ]);
    });

    // An instance paused past the TTL: a sweep reported its connections closed; those it writes
    // back still open are to be reported open again, each once, and only those.
    it('tells replace which of its entries a sweep returned since the last replace', async () => {
      const presence = await factory({ ttlMs: 200 });
      const c1 = { connectionId: 'c1', userId: 'ash', connectedAt: 1 };
      const c2 = { connectionId: 'c2', userId: 'misty', connectedAt: 2 };
      const c3 = { connectionId: 'c3', userId: 'brock', connectedAt: 3 };
      await presence.replace('gw-a', [c1, c2]);
      await presence.replace('gw-b', [c3]);
      // Time must pass beyond the TTL: nothing happens that could be awaited instead.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await presence.heartbeat('gw-b');
      expect(await presence.sweep()).toEqual([{ serverId: 'gw-a', connections: [c1, c2] }]);
      // The paused instance comes back: its heartbeat drops nothing the sweep did not take.
      expect(await presence.heartbeat('gw-a')).toBe(false);
      const c4 = { connectionId: 'c4', userId: 'ash', connectedAt: 4 };
      expect(await presence.replace('gw-a', [c2, c4])).toEqual({ dropped: [], swept: [c2] });
      expect(await presence.replace('gw-a', [c2, c4])).toEqual({ dropped: [], swept: [] });
      expect(await presence.replace('gw-b', [c3])).toEqual({ dropped: [], swept: [] });
    });

    // The paused instance, back, beat (its heartbeat said it had expired), opened a stream and
    // paused again before its `replace`: a second sweep takes that stream, and must not make the
    // registry forget what the first took (those would stay reported closed while open).
    it('tells replace every entry the sweeps since the last replace returned, not only the last', async () => {
      const presence = await factory({ ttlMs: 200 });
      const c1 = { connectionId: 'c1', userId: 'ash', connectedAt: 1 };
      const c2 = { connectionId: 'c2', userId: 'misty', connectedAt: 2 };
      const c3 = { connectionId: 'c3', userId: 'brock', connectedAt: 3 };
      await presence.replace('gw-a', [c1, c2]);
      // Time must pass beyond the TTL: nothing happens that could be awaited instead.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await presence.sweep()).toEqual([{ serverId: 'gw-a', connections: [c1, c2] }]);
      expect(await presence.heartbeat('gw-a')).toBe(false);
      await presence.add('gw-a', c3);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await presence.sweep()).toEqual([{ serverId: 'gw-a', connections: [c3] }]);
      expect(await presence.replace('gw-a', [c1, c2, c3])).toEqual({
        dropped: [],
        swept: [c1, c2, c3],
      });
    });

    // An `add` puts the instance among those a sweep visits, as a heartbeat does: an instance
    // killed after it opened a stream and before its first heartbeat or replace (a gateway that
    // crashed as it started), or after a sweep and before its next beat, leaves nothing that is
    // never swept (that stream stayed open for good to whoever reads the connection events, and
    // its entry in Redis). An instance that lives on gets it back as swept at its replace.
    it('sweeps an entry added to an instance that never beat, or was swept, before its heartbeat', async () => {
      const presence = await factory({ ttlMs: 200 });
      const c1 = { connectionId: 'c1', userId: 'ash', connectedAt: 1 };
      const c2 = { connectionId: 'c2', userId: 'misty', connectedAt: 2 };
      const c3 = { connectionId: 'c3', userId: 'brock', connectedAt: 3 };
      await presence.add('gw-new', c3); // then killed: never a heartbeat
      await presence.replace('gw-a', [c1]);
      // Time must pass beyond the TTL: nothing happens that could be awaited instead.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await presence.sweep()).toEqual([
        { serverId: 'gw-a', connections: [c1] },
        { serverId: 'gw-new', connections: [c3] },
      ]);
      await presence.add('gw-a', c2);
      expect(await presence.sweep()).toEqual([{ serverId: 'gw-a', connections: [c2] }]);
      expect(await presence.sweep()).toEqual([]);
      expect(await presence.list()).toEqual([]);
      expect(await presence.replace('gw-a', [c1, c2])).toEqual({ dropped: [], swept: [c1, c2] });
    });

    // A stream a sweep reported closed (`instance-expired`) that closes before the instance's
    // write-back is not to be reported closed again: `remove` says so, once.
    it('tells remove whether a sweep took the entry since the last replace, once', async () => {
      const presence = await factory({ ttlMs: 200 });
      const c1 = { connectionId: 'c1', userId: 'ash', connectedAt: 1 };
      const c2 = { connectionId: 'c2', userId: 'misty', connectedAt: 2 };
      const c3 = { connectionId: 'c3', userId: 'brock', connectedAt: 3 };
      await presence.replace('gw-a', [c1, c2]);
      // Time must pass beyond the TTL: nothing happens that could be awaited instead.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await presence.sweep()).toEqual([{ serverId: 'gw-a', connections: [c1, c2] }]);
      expect(await presence.remove('gw-a', 'c1')).toBe(true);
      expect(await presence.remove('gw-a', 'c1')).toBe(false);
      expect(await presence.replace('gw-a', [c2, c3])).toEqual({ dropped: [], swept: [c2] });
      expect(await presence.remove('gw-a', 'c2')).toBe(false);
      expect(await presence.remove('gw-a', 'c3')).toBe(false);
      expect(await presence.list()).toEqual([{ serverId: 'gw-a', connections: [] }]);
    });

    // A TTL of 0 or less, or not a whole number, was taken: the instance's tracker then beat
    // every 10 ms (every 1 ms for NaN), and each heartbeat failed in Redis (`invalid expire
    // time`, naming no option) or left the instance never alive in memory (session 46).
    it('refuses a TTL it cannot keep, naming it', async () => {
      const refused: [number, RegExp][] = [
        [0, /options\.ttlMs must be .*, got 0$/],
        [-1_000, /options\.ttlMs must be .*, got -1000$/],
        [1.5, /options\.ttlMs must be .*, got 1\.5$/],
        [Number.NaN, /options\.ttlMs must be .*, got null$/],
      ];
      for (const [ttlMs, message] of refused)
        await expect(factory({ ttlMs })).rejects.toThrow(message);
    });

    it('keeps an instance alive on replace, as a heartbeat does', async () => {
      const presence = await factory({ ttlMs: hour });
      const c1 = { connectionId: 'c1', userId: 'ash', connectedAt: 1 };
      expect(await presence.replace('gw-new', [c1])).toEqual({ dropped: [], swept: [] });
      expect(await presence.list()).toEqual([{ serverId: 'gw-new', connections: [c1] }]);
      expect(await presence.heartbeat('gw-new')).toBe(true);
      expect(await presence.sweep()).toEqual([]);
    });

    it('forgets an instance at once on removeInstance', async () => {
      const presence = await factory({ ttlMs: hour });
      await presence.heartbeat('gw-a');
      await presence.heartbeat('gw-b');
      await presence.add('gw-a', { connectionId: 'c1', userId: 'ash', connectedAt: 1 });
      await presence.removeInstance('gw-a');
      expect(await presence.list()).toEqual([{ serverId: 'gw-b', connections: [] }]);
    });

    it('ignores and drops the entries of an instance whose heartbeat expired', async () => {
      await withLiveInstance(factory, 300, async (presence) => {
        await presence.heartbeat('gw-dead');
        await presence.add('gw-dead', { connectionId: 'c1', userId: 'ash', connectedAt: 1 });
        await presence.heartbeat('gw-live');
        await presence.add('gw-live', { connectionId: 'c2', userId: 'misty', connectedAt: 2 });
        // gw-live keeps beating, gw-dead does not.
        if (!(await beatUntilExpired(presence, 'gw-live', 'gw-dead'))) return false;
        const listed = await presence.list();
        if (!(await presence.heartbeat('gw-live'))) return false; // it expired before the list
        expect(listed).toEqual([
          {
            serverId: 'gw-live',
            connections: [{ connectionId: 'c2', userId: 'misty', connectedAt: 2 }],
          },
        ]);
        // Coming back, it is told it had expired and starts empty.
        expect(await presence.heartbeat('gw-dead')).toBe(false);
        const back = (await presence.list()).find((instance) => instance.serverId === 'gw-dead');
        expect(back).toEqual({ serverId: 'gw-dead', connections: [] });
        return true;
      });
    });

    it('sweeps the entries of an expired instance once, however many sweep at once', async () => {
      const c1 = { connectionId: 'c1', userId: 'ash', connectedAt: 1 };
      const c2 = { connectionId: 'c2', userId: 'misty', connectedAt: 2 };
      const c3 = { connectionId: 'c3', userId: 'brock', connectedAt: 3 };
      await withLiveInstance(factory, 300, async (presence) => {
        await presence.heartbeat('gw-dead');
        await presence.add('gw-dead', c2);
        await presence.add('gw-dead', c1);
        await presence.heartbeat('gw-live');
        await presence.add('gw-live', c3);
        expect(await presence.sweep()).toEqual([]);
        if (!(await beatUntilExpired(presence, 'gw-live', 'gw-dead'))) return false;
        if (!(await presence.heartbeat('gw-live'))) return false;
        // Listing skipped it; sweeping removes it, and gives its entries to one sweeper only.
        const sweeps = await Promise.all([presence.sweep(), presence.sweep(), presence.sweep()]);
        const after = await presence.sweep();
        const listed = await presence.list();
        // gw-live expired meanwhile: the sweeps took its entries too.
        if (!(await presence.heartbeat('gw-live'))) return false;
        expect(sweeps.flat()).toEqual([{ serverId: 'gw-dead', connections: [c1, c2] }]);
        expect(after).toEqual([]);
        expect(listed).toEqual([{ serverId: 'gw-live', connections: [c3] }]);
        expect(await presence.heartbeat('gw-dead')).toBe(false);
        return true;
      });
    });
  });
}
