import type Redis from 'ioredis';
import {
  type InstancePresence,
  type PresenceEntry,
  type PresenceRegistry,
  sortPresence,
} from './presence-registry.port';

// KEYS[1] = alive key, KEYS[2] = connections hash, KEYS[3] = instances set; ARGV[1] = ttl ms,
// ARGV[2] = serverId → 1 if the instance was alive, 0 if not (its stale entries are dropped).
const HEARTBEAT = `
local alive = redis.call('EXISTS', KEYS[1])
if alive == 0 then redis.call('DEL', KEYS[2]) end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return alive`;

/**
 * Presence in Redis: a set of instance ids, per instance a hash connectionId → {userId,
 * connectedAt} and an `alive` key with a TTL that the instance's heartbeat refreshes. Readers
 * skip and delete the entries of instances whose alive key expired (a killed gateway).
 */
export class RedisPresenceRegistry implements PresenceRegistry {
  readonly ttlMs: number;
  private readonly prefix: string;

  constructor(
    private readonly client: Redis,
    options: { keyPrefix?: string; ttlMs?: number } = {},
  ) {
    this.prefix = `${options.keyPrefix ?? ''}presence:`;
    this.ttlMs = options.ttlMs ?? 15_000;
  }

  async add(serverId: string, entry: PresenceEntry): Promise<void> {
    await this.client.hset(
      this.connectionsKey(serverId),
      entry.connectionId,
      JSON.stringify({ userId: entry.userId, connectedAt: entry.connectedAt }),
    );
  }

  async remove(serverId: string, connectionId: string): Promise<void> {
    await this.client.hdel(this.connectionsKey(serverId), connectionId);
  }

  async heartbeat(serverId: string): Promise<boolean> {
    const alive = await this.client.eval(
      HEARTBEAT,
      3,
      this.aliveKey(serverId),
      this.connectionsKey(serverId),
      this.instancesKey(),
      String(this.ttlMs),
      serverId,
    );
    return Number(alive) === 1;
  }

  async removeInstance(serverId: string): Promise<void> {
    await this.client
      .multi()
      .del(this.aliveKey(serverId), this.connectionsKey(serverId))
      .srem(this.instancesKey(), serverId)
      .exec();
  }

  async list(): Promise<InstancePresence[]> {
    const serverIds = await this.client.smembers(this.instancesKey());
    const result: InstancePresence[] = [];
    await Promise.all(
      serverIds.map(async (serverId) => {
        if ((await this.client.exists(this.aliveKey(serverId))) === 0) {
          await this.removeExpired(serverId);
          return;
        }
        const raw = await this.client.hgetall(this.connectionsKey(serverId));
        const connections: PresenceEntry[] = [];
        for (const [connectionId, value] of Object.entries(raw)) {
          try {
            const { userId, connectedAt } = JSON.parse(value) as Omit<
              PresenceEntry,
              'connectionId'
            >;
            connections.push({ connectionId, userId, connectedAt });
          } catch {
            // a malformed entry is ignored
          }
        }
        result.push({ serverId, connections });
      }),
    );
    return sortPresence(result);
  }

  /** Deletes an expired instance, unless it came back between the check and now. */
  private async removeExpired(serverId: string): Promise<void> {
    await this.client.eval(
      `if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) redis.call('SREM', KEYS[3], ARGV[1]) end return 0`,
      3,
      this.aliveKey(serverId),
      this.connectionsKey(serverId),
      this.instancesKey(),
      serverId,
    );
  }

  private instancesKey(): string {
    return `${this.prefix}instances`;
  }
  private aliveKey(serverId: string): string {
    return `${this.prefix}alive:${serverId}`;
  }
  private connectionsKey(serverId: string): string {
    return `${this.prefix}connections:${serverId}`;
  }
}
