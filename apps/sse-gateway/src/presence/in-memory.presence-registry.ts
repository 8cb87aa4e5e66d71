import {
  type InstancePresence,
  type PresenceEntry,
  type PresenceRegistry,
  type ReplacedPresence,
  sortPresence,
  SWEPT_MEMORY_MS,
  ttlOf,
} from './presence-registry.port';

/** Presence within one process (embedded mode, tests); same expiry rules as the Redis one. */
export class InMemoryPresenceRegistry implements PresenceRegistry {
  readonly ttlMs: number;
  private readonly instances = new Map<string, Map<string, PresenceEntry>>();
  private readonly aliveUntil = new Map<string, number>();
  /**
   * The instances a sweep or list visits, as the Redis registry's instances set: a heartbeat,
   * replace or add adds one (an instance killed after an add, before its first heartbeat, is
   * swept), a sweep that finds it expired or removeInstance removes it.
   */
  private readonly members = new Set<string>();
  /** Per instance, the connection ids a sweep returned and until when that is remembered. */
  private readonly sweptIds = new Map<string, { ids: Set<string>; until: number }>();
  private readonly now: () => number;

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.ttlMs = ttlOf(options);
    this.now = options.now ?? Date.now;
  }

  async add(serverId: string, entry: PresenceEntry): Promise<void> {
    let connections = this.instances.get(serverId);
    if (!connections) this.instances.set(serverId, (connections = new Map()));
    connections.set(entry.connectionId, { ...entry });
    this.members.add(serverId);
  }

  async remove(serverId: string, connectionId: string): Promise<boolean> {
    this.instances.get(serverId)?.delete(connectionId);
    const swept = this.sweptIds.get(serverId);
    return swept !== undefined && swept.until > this.now() && swept.ids.delete(connectionId);
  }

  async heartbeat(serverId: string): Promise<boolean> {
    const wasAlive = this.isAlive(serverId);
    if (!wasAlive) this.instances.delete(serverId);
    this.aliveUntil.set(serverId, this.now() + this.ttlMs);
    this.members.add(serverId);
    return wasAlive;
  }

  async replace(serverId: string, entries: PresenceEntry[]): Promise<ReplacedPresence> {
    const before = this.instances.get(serverId) ?? new Map<string, PresenceEntry>();
    const after = new Map(entries.map((entry) => [entry.connectionId, { ...entry }]));
    this.instances.set(serverId, after);
    this.aliveUntil.set(serverId, this.now() + this.ttlMs);
    this.members.add(serverId);
    const swept = this.sweptIds.get(serverId);
    this.sweptIds.delete(serverId);
    const remembered = swept && swept.until > this.now() ? swept.ids : new Set<string>();
    return {
      dropped: [...before.values()].filter((entry) => !after.has(entry.connectionId)),
      swept: entries
        .filter((entry) => remembered.has(entry.connectionId))
        .map((entry) => ({ ...entry })),
    };
  }

  async removeInstance(serverId: string): Promise<void> {
    this.forget(serverId);
    this.sweptIds.delete(serverId);
  }

  private forget(serverId: string): void {
    this.instances.delete(serverId);
    this.aliveUntil.delete(serverId);
    this.members.delete(serverId);
  }

  async list(): Promise<InstancePresence[]> {
    const result: InstancePresence[] = [];
    for (const serverId of [...this.members]) {
      if (!this.isAlive(serverId)) continue;
      const connections = [...(this.instances.get(serverId)?.values() ?? [])].map((entry) => ({
        ...entry,
      }));
      result.push({ serverId, connections });
    }
    return sortPresence(result);
  }

  async sweep(): Promise<InstancePresence[]> {
    const removed: InstancePresence[] = [];
    for (const serverId of [...this.members]) {
      if (this.isAlive(serverId)) continue;
      const connections = [...(this.instances.get(serverId)?.values() ?? [])];
      this.forget(serverId);
      if (connections.length > 0) {
        removed.push({ serverId, connections });
        // Added to what earlier sweeps took (the instance, back, opened a stream before its
        // heartbeat), as long as that is remembered.
        const earlier = this.sweptIds.get(serverId);
        const ids = earlier && earlier.until > this.now() ? earlier.ids : new Set<string>();
        for (const entry of connections) ids.add(entry.connectionId);
        this.sweptIds.set(serverId, { ids, until: this.now() + SWEPT_MEMORY_MS });
      }
    }
    return sortPresence(removed);
  }

  private isAlive(serverId: string): boolean {
    return (this.aliveUntil.get(serverId) ?? 0) > this.now();
  }
}
