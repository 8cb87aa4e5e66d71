import { RedisScript } from '@causeway/cqrs-core/redis';
import type Redis from 'ioredis';
import {
  type InstancePresence,
  type PresenceEntry,
  type PresenceRegistry,
  type ReplacedPresence,
  sortPresence,
  SWEPT_MEMORY_MS,
  ttlOf,
} from './presence-registry.port';

// KEYS[1] = alive key, KEYS[2] = connections hash, KEYS[3] = instances set; ARGV[1] = ttl ms,
// ARGV[2] = serverId → 1 if the instance was alive, 0 if not (its stale entries are dropped).
const HEARTBEAT = new RedisScript(`
local alive = redis.call('EXISTS', KEYS[1])
if alive == 0 then redis.call('DEL', KEYS[2]) end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return alive`);

// KEYS as HEARTBEAT's, KEYS[4] = swept hash; ARGV[1] = serverId, ARGV[2] = SWEPT_MEMORY_MS →
// the instance's connections hash (flat field, value list) if its alive key had expired, then
// moved into the swept hash (for its `replace`, should the instance only have paused); empty if
// it is alive. Added to what earlier sweeps moved there, not in its place (RENAME): the
// instance, back, may open a stream before its heartbeat, and a second sweep takes that one.
const SWEEP = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return {} end
local entries = redis.call('HGETALL', KEYS[2])
if #entries > 0 then
  for i = 1, #entries, 2 do redis.call('HSET', KEYS[4], entries[i], entries[i + 1]) end
  redis.call('DEL', KEYS[2])
  redis.call('PEXPIRE', KEYS[4], ARGV[2])
end
redis.call('SREM', KEYS[3], ARGV[1])
return entries`);

// KEYS as SWEEP's; ARGV[1] = connectionId → 1 if a sweep had taken it (the swept hash held it,
// and no longer does), else 0.
const REMOVE = new RedisScript(`
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[4], ARGV[1])`);

// KEYS as SWEEP's; ARGV[1] = ttl ms, ARGV[2] = serverId, then connectionId, value pairs →
// { the instance's former entries that are not among the new ones (flat field, value list),
// the ids of the new ones a sweep returned (the swept hash, then deleted) }.
const REPLACE = new RedisScript(`
local sweptIds = {}
for _, id in ipairs(redis.call('HKEYS', KEYS[4])) do sweptIds[id] = true end
redis.call('DEL', KEYS[4])
local swept = {}
for i = 3, #ARGV, 2 do
  if sweptIds[ARGV[i]] then swept[#swept + 1] = ARGV[i] end
end
local before = redis.call('HGETALL', KEYS[2])
redis.call('DEL', KEYS[2])
local kept = {}
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  kept[ARGV[i]] = true
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
local dropped = {}
for i = 1, #before, 2 do
  if not kept[before[i]] then
    dropped[#dropped + 1] = before[i]
    dropped[#dropped + 1] = before[i + 1]
  end
end
return { dropped, swept }`);

/**
 * Presence in Redis: a set of instance ids, per instance a hash connectionId → {userId,
 * connectedAt} and an `alive` key with a TTL that the instance's heartbeat refreshes. Readers
 * skip the entries of instances whose alive key expired (a killed gateway); `sweep` deletes and
 * returns them in one script, so only one sweeper gets them.
 */
export class RedisPresenceRegistry implements PresenceRegistry {
  readonly ttlMs: number;
  private readonly prefix: string;

  constructor(
    private readonly client: Redis,
    options: { keyPrefix?: string; ttlMs?: number } = {},
  ) {
    this.prefix = `${options.keyPrefix ?? ''}presence:`;
    this.ttlMs = ttlOf(options);
  }

  async add(serverId: string, entry: PresenceEntry): Promise<void> {
    // The instance joins the instances set too: killed before its first heartbeat (or its next
    // after a sweep), its entry is still swept, and its stream reported closed.
    await this.client
      .multi()
      .hset(this.connectionsKey(serverId), entry.connectionId, value(entry))
      .sadd(this.instancesKey(), serverId)
      .exec();
  }

  async remove(serverId: string, connectionId: string): Promise<boolean> {
    const swept = await REMOVE.run(this.client, this.keysOf(serverId), [connectionId]);
    return Number(swept) === 1;
  }

  async heartbeat(serverId: string): Promise<boolean> {
    const alive = await HEARTBEAT.run(this.client, this.keysOf(serverId), [this.ttlMs, serverId]);
    return Number(alive) === 1;
  }

  async replace(serverId: string, connections: PresenceEntry[]): Promise<ReplacedPresence> {
    const [flat, sweptIds] = (await REPLACE.run(this.client, this.keysOf(serverId), [
      this.ttlMs,
      serverId,
      ...connections.flatMap((entry) => [entry.connectionId, value(entry)]),
    ])) as [string[], string[]];
    const swept = new Set(sweptIds);
    return {
      dropped: entries(pairsOf(flat)),
      swept: connections.filter((entry) => swept.has(entry.connectionId)),
    };
  }

  async removeInstance(serverId: string): Promise<void> {
    await this.client
      .multi()
      .del(this.aliveKey(serverId), this.connectionsKey(serverId), this.sweptKey(serverId))
      .srem(this.instancesKey(), serverId)
      .exec();
  }

  async list(): Promise<InstancePresence[]> {
    const serverIds = await this.client.smembers(this.instancesKey());
    const result: InstancePresence[] = [];
    await Promise.all(
      serverIds.map(async (serverId) => {
        if ((await this.client.exists(this.aliveKey(serverId))) === 0) return;
        const raw = await this.client.hgetall(this.connectionsKey(serverId));
        result.push({ serverId, connections: entries(Object.entries(raw)) });
      }),
    );
    return sortPresence(result);
  }

  async sweep(): Promise<InstancePresence[]> {
    const serverIds = await this.client.smembers(this.instancesKey());
    const removed: InstancePresence[] = [];
    await Promise.all(
      serverIds.map(async (serverId) => {
        const flat = (await SWEEP.run(this.client, this.keysOf(serverId), [
          serverId,
          SWEPT_MEMORY_MS,
        ])) as string[];
        const pairs = pairsOf(flat);
        if (pairs.length > 0) removed.push({ serverId, connections: entries(pairs) });
      }),
    );
    return sortPresence(removed);
  }

  /**
   * KEYS of the scripts: the instance's alive key and connections hash, the instances set, the
   * instance's swept hash (HEARTBEAT ignores it).
   */
  private keysOf(serverId: string): string[] {
    return [
      this.aliveKey(serverId),
      this.connectionsKey(serverId),
      this.instancesKey(),
      this.sweptKey(serverId),
    ];
  }
  private sweptKey(serverId: string): string {
    return `${this.prefix}swept:${serverId}`;
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

function value(entry: PresenceEntry): string {
  const { userId, connectedAt, trainerIds } = entry;
  return JSON.stringify({ userId, connectedAt, ...(trainerIds && { trainerIds }) });
}

/** A flat HGETALL-style reply as field, value pairs. */
function pairsOf(flat: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  return pairs;
}

/**
 * The entries of a connections hash (connectionId → JSON): `{userId, connectedAt, trainerIds?}`.
 * One written before session 47 has no `trainerIds`: the user moves no trainer but their own
 * (PresenceEntry), as a new one without any. One of neither shape (not JSON, no string `userId`,
 * no numeric `connectedAt`) is ignored: GET /api/presence sorts and counts by them.
 */
function entries(fields: [string, string][]): PresenceEntry[] {
  const connections: PresenceEntry[] = [];
  for (const [connectionId, value] of fields) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      continue;
    }
    if (typeof parsed !== 'object' || parsed === null) continue;
    const { userId, connectedAt, trainerIds } = parsed as Record<string, unknown>;
    if (typeof userId !== 'string' || typeof connectedAt !== 'number' || !isFinite(connectedAt))
      continue;
    const moves = Array.isArray(trainerIds)
      ? trainerIds.filter((id): id is string => typeof id === 'string')
      : [];
    connections.push({
      connectionId,
      userId,
      connectedAt,
      ...(moves.length > 0 && { trainerIds: moves }),
    });
  }
  return connections;
}
