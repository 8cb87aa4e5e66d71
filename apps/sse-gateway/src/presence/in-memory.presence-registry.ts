import {
  type InstancePresence,
  type PresenceEntry,
  type PresenceRegistry,
  sortPresence,
} from './presence-registry.port';

/** Presence within one process (embedded mode, tests); same expiry rules as the Redis one. */
export class InMemoryPresenceRegistry implements PresenceRegistry {
  readonly ttlMs: number;
  private readonly instances = new Map<string, Map<string, PresenceEntry>>();
  private readonly aliveUntil = new Map<string, number>();
  private readonly now: () => number;

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.ttlMs = options.ttlMs ?? 15_000;
    this.now = options.now ?? Date.now;
  }

  async add(serverId: string, entry: PresenceEntry): Promise<void> {
    let connections = this.instances.get(serverId);
    if (!connections) this.instances.set(serverId, (connections = new Map()));
    connections.set(entry.connectionId, { ...entry });
  }

  async remove(serverId: string, connectionId: string): Promise<void> {
    this.instances.get(serverId)?.delete(connectionId);
  }

  async heartbeat(serverId: string): Promise<boolean> {
    const wasAlive = this.isAlive(serverId);
    if (!wasAlive) this.instances.delete(serverId);
    this.aliveUntil.set(serverId, this.now() + this.ttlMs);
    return wasAlive;
  }

  async replace(serverId: string, entries: PresenceEntry[]): Promise<PresenceEntry[]> {
    const before = this.instances.get(serverId) ?? new Map<string, PresenceEntry>();
    const after = new Map(entries.map((entry) => [entry.connectionId, { ...entry }]));
    this.instances.set(serverId, after);
    this.aliveUntil.set(serverId, this.now() + this.ttlMs);
    return [...before.values()].filter((entry) => !after.has(entry.connectionId));
  }

  async removeInstance(serverId: string): Promise<void> {
    this.instances.delete(serverId);
    this.aliveUntil.delete(serverId);
  }

  async list(): Promise<InstancePresence[]> {
    const result: InstancePresence[] = [];
    for (const serverId of new Set([...this.instances.keys(), ...this.aliveUntil.keys()])) {
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
    for (const serverId of new Set([...this.instances.keys(), ...this.aliveUntil.keys()])) {
      if (this.isAlive(serverId)) continue;
      const connections = [...(this.instances.get(serverId)?.values() ?? [])];
      await this.removeInstance(serverId);
      if (connections.length > 0) removed.push({ serverId, connections });
    }
    return sortPresence(removed);
  }

  private isAlive(serverId: string): boolean {
    return (this.aliveUntil.get(serverId) ?? 0) > this.now();
  }
}
