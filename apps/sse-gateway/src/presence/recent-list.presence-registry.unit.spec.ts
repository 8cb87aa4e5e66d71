import { InMemoryPresenceRegistry } from './in-memory.presence-registry';
import { type PresenceRegistry } from './presence-registry.port';
import { describePresenceRegistry } from './presence-registry.conformance';
import { recentListPresence } from './recent-list.presence-registry';

describePresenceRegistry('recent-list over in-memory', async ({ ttlMs }) =>
  recentListPresence(new InMemoryPresenceRegistry({ ttlMs })),
);

/** The registry, counting its list() reads; `failing` makes the next ones fail. */
function counted(inner: PresenceRegistry) {
  const state = { reads: 0, failing: false };
  const registry = Object.assign(Object.create(inner) as PresenceRegistry, {
    list: async () => {
      state.reads++;
      if (state.failing) throw new Error('redis down');
      return inner.list();
    },
  });
  return { registry, state };
}

describe('recentListPresence', () => {
  const ash = { connectionId: 'c1', userId: 'ash', connectedAt: 1 };
  const misty = { connectionId: 'c2', userId: 'misty', connectedAt: 2 };

  it('serves every request within maxAgeMs, and concurrent ones, with one read', async () => {
    const { registry, state } = counted(new InMemoryPresenceRegistry({ ttlMs: 60_000 }));
    const presence = recentListPresence(registry, 200);
    await presence.heartbeat('gw-a');
    await presence.add('gw-a', ash);
    const lists = await Promise.all(Array.from({ length: 50 }, () => presence.list()));
    expect(state.reads).toBe(1);
    expect(lists[49]).toEqual([{ serverId: 'gw-a', connections: [ash] }]);
    expect(Object.isFrozen(lists[0]![0]!.connections[0])).toBe(true); // shared: nobody changes it
    await presence.list();
    expect(state.reads).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await presence.list();
    expect(state.reads).toBe(2);
  });

  it('reads again once a change made through it is written: a new stream shows at once', async () => {
    const { registry, state } = counted(new InMemoryPresenceRegistry({ ttlMs: 60_000 }));
    const presence = recentListPresence(registry, 60_000);
    await presence.heartbeat('gw-a');
    await presence.add('gw-a', ash);
    await presence.list();
    await presence.add('gw-a', misty);
    expect(await presence.list()).toEqual([{ serverId: 'gw-a', connections: [ash, misty] }]);
    await presence.remove('gw-a', 'c1');
    expect(await presence.list()).toEqual([{ serverId: 'gw-a', connections: [misty] }]);
    expect(state.reads).toBe(3);
    await presence.sweep(); // removed nothing: the shared read stands
    await presence.list();
    expect(state.reads).toBe(3);
  });

  // The age of the shared read was measured on the host's clock: set back (an NTP step, a VM
  // restored), every request got the old read until the clock caught up, an hour for an hour,
  // other instances' streams and dead instances frozen as they were (session 46).
  it('reads again after maxAgeMs when the host clock is set back', async () => {
    const { registry, state } = counted(new InMemoryPresenceRegistry({ ttlMs: 60_000 }));
    const presence = recentListPresence(registry, 50);
    await presence.list();
    expect(state.reads).toBe(1);
    const setBack = Date.now() - 3_600_000;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => setBack);
    try {
      const deadline = performance.now() + 5_000;
      while (state.reads < 2) {
        if (performance.now() > deadline) throw new Error('presence was never read again');
        await presence.list();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      clock.mockRestore();
    }
  });

  it('never shares a failed read', async () => {
    const { registry, state } = counted(new InMemoryPresenceRegistry({ ttlMs: 60_000 }));
    const presence = recentListPresence(registry, 60_000);
    state.failing = true;
    await expect(presence.list()).rejects.toThrow('redis down');
    state.failing = false;
    await expect(presence.list()).resolves.toEqual([]);
    expect(state.reads).toBe(2);
  });
});
