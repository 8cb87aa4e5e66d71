import {
  type InstancePresence,
  type PresenceEntry,
  type PresenceRegistry,
} from './presence-registry.port';

/**
 * A PresenceRegistry whose `list()` — every connection of every live instance, read and decoded
 * whatever the caller may see — is shared: requests within `maxAgeMs` of a read get that read,
 * and concurrent ones one read. So GET /api/presence costs Redis one read per `maxAgeMs`
 * however many users ask (at 100 requests a second each, one user would otherwise read the
 * whole registry 100 times a second). A change made through this registry (this instance's
 * connections opening and closing) ends the shared read once it is written, so a user sees
 * their own new stream at once; other instances' changes show within `maxAgeMs`. A failed
 * read is not shared.
 */
export function recentListPresence(registry: PresenceRegistry, maxAgeMs = 1_000): PresenceRegistry {
  let shared: { at: number; read: Promise<InstancePresence[]> } | undefined;
  const changed = <T>(change: Promise<T>): Promise<T> =>
    change.finally(() => {
      shared = undefined;
    });
  return {
    get ttlMs() {
      return registry.ttlMs;
    },
    add: (serverId: string, entry: PresenceEntry) => changed(registry.add(serverId, entry)),
    remove: (serverId: string, connectionId: string) =>
      changed(registry.remove(serverId, connectionId)),
    // false: the instance was (re)registered, so it is listed from now on.
    heartbeat: (serverId: string) =>
      registry.heartbeat(serverId).then((alive) => {
        if (!alive) shared = undefined;
        return alive;
      }),
    replace: (serverId: string, entries: PresenceEntry[]) =>
      changed(registry.replace(serverId, entries)),
    removeInstance: (serverId: string) => changed(registry.removeInstance(serverId)),
    // Every instance sweeps at each beat; most sweeps remove nothing.
    sweep: () =>
      registry.sweep().then((removed) => {
        if (removed.length > 0) shared = undefined;
        return removed;
      }),
    list: () => {
      // Monotonic: the host's clock set back would keep serving one read until it caught up.
      const now = performance.now();
      if (shared && now - shared.at < maxAgeMs) return shared.read;
      const read = registry.list().then(frozen);
      const entry = { at: now, read };
      shared = entry;
      read.catch(() => {
        if (shared === entry) shared = undefined;
      });
      return read;
    },
  };
}

/** Shared by its readers: frozen, so that none can change what the others get. */
function frozen(instances: InstancePresence[]): InstancePresence[] {
  for (const instance of instances) {
    for (const connection of instance.connections) Object.freeze(connection);
    Object.freeze(instance.connections);
    Object.freeze(instance);
  }
  return Object.freeze(instances) as InstancePresence[];
}
