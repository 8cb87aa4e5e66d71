import { RedisScript } from './redis.script';
import type Redis from 'ioredis';

/**
 * The Lua scripts of partition ownership. Each runs atomically in Redis, and time is Redis'
 * own (TIME, PX), so consumers on hosts with skewed clocks still agree on who is alive.
 */

/**
 * Records a heartbeat, forgets members silent for longer than the TTL, returns the live ones.
 * With a second key (a topic's fan-out group registry, see StreamKeys.fanOutGroups) it also
 * records that the group `ARGV[3]` is alive until now + TTL.
 */
const HEARTBEAT = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)
if KEYS[2] then redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3]) end
return redis.call('ZRANGE', KEYS[1], 0, -1)`);

/** Records in a topic's fan-out group registry that group `ARGV[1]` is alive until now + `ARGV[2]` ms. */
const REGISTER_FAN_OUT_GROUP = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1`);

/**
 * Destroys the fan-out groups of a topic whose instance is gone: registered (KEYS[1]) as alive
 * until a time more than `ARGV[1]` ms ago — XGROUP DESTROY on every stream of the topic
 * (KEYS[2..]), then out of the registry. At most `ARGV[2]` groups per call. Atomic: an instance
 * that heartbeats again (a stable instance id restarting) before this runs keeps its group.
 * Returns the groups destroyed.
 */
const DESTROY_GONE_FAN_OUT_GROUPS = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[1])),
  'LIMIT', 0, tonumber(ARGV[2]))
for _, group in ipairs(gone) do
  for i = 2, #KEYS do redis.pcall('XGROUP', 'DESTROY', KEYS[i], group) end
  redis.call('ZREM', KEYS[1], group)
end
return gone`);

/**
 * Takes or renews a lease. Replies 'renewed' (ours already), 'handed-over' (the previous owner
 * released it after finishing its work), 'acquired' (free: never taken, or lapsed — its owner
 * may have crashed) or nil (someone else holds it).
 *
 * A renewal also restarts the idle time of the entries whose handlers run here: for each
 * (index into KEYS of its stream, id) pair from ARGV[5] on, an entry still pending at this
 * consumer (ARGV[4]) of the group (ARGV[3]), and still in its stream, is claimed again by this
 * consumer (XCLAIM … JUSTID: its delivery count stays). A next owner claims entries only once
 * idle `claimIdleMs`: counted from the read, an entry that waited behind its key (read ahead)
 * could be taken while its handler had only just started here. An entry trimmed from its
 * stream is left alone (XCLAIM would drop it from the pending list: its failure could then not
 * be told from an acknowledgement elsewhere, see claimForRedelivery); a stream or group that
 * is gone holds nothing to refresh.
 */
const LEASE = new RedisScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  for i = 5, #ARGV, 2 do
    local stream = KEYS[tonumber(ARGV[i])]
    local id = ARGV[i + 1]
    local ok, rows = pcall(redis.call, 'XPENDING', stream, ARGV[3], id, id, 1, ARGV[4])
    if ok and rows[1] and #redis.call('XRANGE', stream, id, id) > 0 then
      redis.call('XCLAIM', stream, ARGV[3], ARGV[4], 0, id, 'JUSTID')
    end
  end
  return 'renewed'
end
if v == false or v == 'released' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  if v == false then return 'acquired' end
  return 'handed-over'
end
return false`);

/**
 * Marks our lease (KEYS[1]) as released — a clean hand-over: the next owner may claim at once —
 * after giving back the deliveries of the entries this consumer holds but never started: for
 * each (index into KEYS of its stream, id, delivery count) triple from ARGV[5] on, an entry
 * still pending at this consumer (ARGV[4]) of the group (ARGV[3]) with that delivery count gets
 * it lowered by one (XCLAIM … RETRYCOUNT count-1 JUSTID), so that the next owner's claim, which
 * raises it again, does not count a delivery no handler saw. Nothing changes unless the lease
 * is still ours (ARGV[1]): while it is, no other consumer takes entries of the partition.
 * A triple whose count is -1 names an entry whose handler still runs here (close gave up on
 * it): its idle time restarts instead (XCLAIM … JUSTID, as in LEASE), so that the next owner,
 * which claims it once idle `claimIdleMs`, counts from this release and not from its read.
 * A stream or group that does not exist any more (NOGROUP: Redis lost its data) holds nothing
 * to give back: the lease is released all the same.
 * Returns the entries given back, or -1 when the lease was not ours.
 */
const HAND_OVER = new RedisScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local given = 0
for i = 5, #ARGV, 3 do
  local stream = KEYS[tonumber(ARGV[i])]
  local id = ARGV[i + 1]
  local count = tonumber(ARGV[i + 2])
  local ok, rows = pcall(redis.call, 'XPENDING', stream, ARGV[3], id, id, 1, ARGV[4])
  local row = ok and rows[1]
  if row and count < 0 then
    if #redis.call('XRANGE', stream, id, id) > 0 then
      redis.call('XCLAIM', stream, ARGV[3], ARGV[4], 0, id, 'JUSTID')
    end
  elseif row and tonumber(row[4]) == count and count > 0 then
    redis.call('XCLAIM', stream, ARGV[3], ARGV[4], 0, id, 'RETRYCOUNT', count - 1, 'JUSTID')
    given = given + 1
  end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], 'released', 'PX', ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return given`);

/**
 * Deletes consumers of a stream's group that are idle and own nothing. Atomic, so a consumer
 * cannot take an entry between the check and the delete. Hazard: XGROUP DELCONSUMER drops the
 * consumer's pending entries — never call it for a consumer with pending > 0.
 */
const DELETE_IDLE_CONSUMERS = new RedisScript(`
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
return removed`);

export type LeaseOutcome = 'renewed' | 'handed-over' | 'acquired' | 'lost';

/** `fanOut`: also marks this fan-out group alive in the topic's registry (see StreamKeys.fanOutGroups). */
export async function heartbeat(
  client: Redis,
  membersKey: string,
  consumer: string,
  ttlMs: number,
  fanOut?: { registry: string; group: string },
): Promise<string[]> {
  const reply = fanOut
    ? await HEARTBEAT.run(client, [membersKey, fanOut.registry], [consumer, ttlMs, fanOut.group])
    : await HEARTBEAT.run(client, [membersKey], [consumer, ttlMs]);
  return Array.isArray(reply) ? reply.map(String) : [];
}

export async function registerFanOutGroup(
  client: Redis,
  registry: string,
  group: string,
  ttlMs: number,
): Promise<void> {
  await REGISTER_FAN_OUT_GROUP.run(client, [registry], [group, ttlMs]);
}

/** See DESTROY_GONE_FAN_OUT_GROUPS; `streams`: every stream of the registry's topic. */
export async function destroyGoneFanOutGroups(
  client: Redis,
  registry: string,
  streams: readonly string[],
  idleMs: number,
  limit = 100,
): Promise<string[]> {
  const reply = await DESTROY_GONE_FAN_OUT_GROUPS.run(
    client,
    [registry, ...streams],
    [Math.round(idleMs), limit],
  );
  return Array.isArray(reply) ? reply.map(String) : [];
}

export async function leave(client: Redis, membersKey: string, consumer: string): Promise<void> {
  await client.zrem(membersKey, consumer);
}

/**
 * Entries whose handlers run at this consumer, of a partition whose lease is renewed: their idle
 * time restarts with the renewal (see LEASE).
 */
export interface RunningEntries {
  readonly group: string;
  readonly consumer: string;
  /** The partition's streams. */
  readonly streams: readonly string[];
  readonly entries: readonly { readonly stream: string; readonly id: string }[];
}

export async function takeLease(
  client: Redis,
  leaseKey: string,
  token: string,
  ttlMs: number,
  running?: RunningEntries,
): Promise<LeaseOutcome> {
  let reply: unknown;
  if (running && running.entries.length > 0) {
    const args: (string | number)[] = [token, ttlMs, running.group, running.consumer];
    for (const entry of running.entries) {
      const index = running.streams.indexOf(entry.stream);
      if (index >= 0) args.push(index + 2, entry.id);
    }
    reply = await LEASE.run(client, [leaseKey, ...running.streams], args);
  } else {
    reply = await LEASE.run(client, [leaseKey], [token, ttlMs]);
  }
  return reply === 'renewed' || reply === 'handed-over' || reply === 'acquired' ? reply : 'lost';
}

/** An entry held and never started: its delivery count in Redis (see HAND_OVER). */
export interface UnstartedEntry {
  readonly stream: string;
  readonly id: string;
  readonly attempt: number;
}

/**
 * Releases our lease of a partition (whose streams are `streams`) after lowering the delivery
 * counts of `unstarted` (see HAND_OVER). `lease.markerTtlMs`: how long the 'released' marker
 * lets the next owner skip the claim delay; 0 deletes the lease without a marker, so the next
 * owner waits claimIdleMs before claiming (a handler of ours may still be running: `running`,
 * whose idle time restarts now). Resolves the number of entries given back, -1 when the lease
 * was not ours any more (nothing changed).
 */
export async function handOver(
  client: Redis,
  lease: { key: string; token: string; markerTtlMs: number },
  group: string,
  consumer: string,
  streams: readonly string[],
  unstarted: readonly UnstartedEntry[],
  running: readonly { readonly stream: string; readonly id: string }[] = [],
): Promise<number> {
  const args: (string | number)[] = [lease.token, lease.markerTtlMs, group, consumer];
  for (const entry of unstarted) {
    const index = streams.indexOf(entry.stream);
    if (index >= 0) args.push(index + 2, entry.id, entry.attempt);
  }
  for (const entry of running) {
    const index = streams.indexOf(entry.stream);
    if (index >= 0) args.push(index + 2, entry.id, -1);
  }
  return Number(await HAND_OVER.run(client, [lease.key, ...streams], args));
}

export async function deleteIdleConsumers(
  client: Redis,
  stream: string,
  group: string,
  me: string,
  idleMs: number,
): Promise<number> {
  return Number(await DELETE_IDLE_CONSUMERS.run(client, [stream], [group, me, idleMs]));
}
