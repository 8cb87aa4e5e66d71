import type Redis from 'ioredis';

/**
 * The Lua scripts of partition ownership. Each runs atomically in Redis, and time is Redis'
 * own (TIME, PX), so consumers on hosts with skewed clocks still agree on who is alive.
 */

/** Records a heartbeat, forgets members silent for longer than the TTL, returns the live ones. */
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)
return redis.call('ZRANGE', KEYS[1], 0, -1)`;

/**
 * Takes or renews a lease. Replies 'renewed' (ours already), 'handed-over' (the previous owner
 * released it after finishing its work), 'acquired' (free: never taken, or lapsed — its owner
 * may have crashed) or nil (someone else holds it).
 */
const LEASE = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 'renewed'
end
if v == false or v == 'released' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  if v == false then return 'acquired' end
  return 'handed-over'
end
return false`;

/** Marks our lease as released (clean hand-over: the next owner may claim at once). */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'released', 'PX', ARGV[2])
  return 1
end
return 0`;

/**
 * Deletes consumers of a stream's group that are idle and own nothing. Atomic, so a consumer
 * cannot take an entry between the check and the delete. Hazard: XGROUP DELCONSUMER drops the
 * consumer's pending entries — never call it for a consumer with pending > 0.
 */
const DELETE_IDLE_CONSUMERS = `
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return 0 end
local removed = 0
for _, c in ipairs(consumers) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if info['name'] ~= ARGV[2] and info['pending'] == 0 and info['idle'] > tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    removed = removed + 1
  end
end
return removed`;

export type LeaseOutcome = 'renewed' | 'handed-over' | 'acquired' | 'lost';

export async function heartbeat(
  client: Redis,
  membersKey: string,
  consumer: string,
  ttlMs: number,
): Promise<string[]> {
  const reply = await client.eval(HEARTBEAT, 1, membersKey, consumer, ttlMs);
  return Array.isArray(reply) ? reply.map(String) : [];
}

export async function leave(client: Redis, membersKey: string, consumer: string): Promise<void> {
  await client.zrem(membersKey, consumer);
}

export async function takeLease(
  client: Redis,
  leaseKey: string,
  token: string,
  ttlMs: number,
): Promise<LeaseOutcome> {
  const reply = await client.eval(LEASE, 1, leaseKey, token, ttlMs);
  return reply === 'renewed' || reply === 'handed-over' || reply === 'acquired' ? reply : 'lost';
}

/** `markerTtlMs`: how long the 'released' marker lets the next owner skip the claim delay. */
export async function releaseLease(
  client: Redis,
  leaseKey: string,
  token: string,
  markerTtlMs: number,
): Promise<void> {
  await client.eval(RELEASE, 1, leaseKey, token, markerTtlMs);
}

export async function deleteIdleConsumers(
  client: Redis,
  stream: string,
  group: string,
  me: string,
  idleMs: number,
): Promise<number> {
  return Number(await client.eval(DELETE_IDLE_CONSUMERS, 1, stream, group, me, idleMs));
}
