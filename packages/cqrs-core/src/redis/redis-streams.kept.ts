import type Redis from 'ioredis';
import { type Priority } from '../messages/envelope';
import { RedisScript } from './redis.script';
import { type HeldEntry, type PartitionState } from './redis-streams.partition';

/**
 * Copies of held entries that trimming removed from their streams before they succeeded
 * (HeldEntry.trimmed), one hash per partition and group (StreamKeys.trimmedHeld): field
 * `<lane>:<id>`, value `<server ms> <json>`. Redis dropped them from the group's pending list,
 * so without this copy a crash of the consumer holding them, or a partition moving, would lose
 * them (a review, session 37): the partition's next owner adopts them from here, as it adopts
 * pending entries (adoptPending), and the copy goes once a handler succeeded.
 */
interface KeptCopy {
  key: string;
  raw: string | null;
  /** Deliveries that reached a handler, or may have (one running when written). */
  delivered: number;
}

/** Writes (or rewrites) a copy, stamped with Redis' clock: its idle time restarts. */
const KEEP = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], now .. ' ' .. ARGV[i + 1]) end
return #ARGV / 2`);

/** Every copy of a partition, as `field, idle ms, json` triples (idle by Redis' clock). */
const COPIES = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local at = string.find(all[i + 1], ' ', 1, true)
  if at then
    out[#out + 1] = all[i]
    out[#out + 1] = now - tonumber(string.sub(all[i + 1], 1, at - 1))
    out[#out + 1] = string.sub(all[i + 1], at + 1)
  end
end
return out`);

const fieldOf = (entry: HeldEntry) => `${entry.lane}:${entry.id}`;

/**
 * Keeps copies of `entries` (held, trimmed from their streams) in Redis; marks them kept.
 * `delivered(entry)`: the deliveries of it that reached a handler, or may have.
 */
export async function keepTrimmed(
  client: Redis,
  part: PartitionState,
  entries: readonly HeldEntry[],
  delivered: (entry: HeldEntry) => number,
): Promise<void> {
  if (entries.length === 0) return;
  const args: string[] = [];
  for (const entry of entries) {
    const copy: KeptCopy = { key: entry.key, raw: entry.raw ?? null, delivered: delivered(entry) };
    args.push(fieldOf(entry), JSON.stringify(copy));
  }
  await KEEP.run(client, [part.keptKey], args);
  for (const entry of entries) entry.kept = true;
}

/** Drops the copy of an entry whose handler succeeded (or that onPoison took). */
export async function forgetKept(
  client: Redis,
  part: PartitionState,
  entry: HeldEntry,
): Promise<void> {
  await client.hdel(part.keptKey, fieldOf(entry));
}

/**
 * The copies of a partition this consumer does not hold, idle at least `minIdleMs` (an owner
 * whose lease lapsed may still run the entry: as XAUTOCLAIM's min-idle for pending entries),
 * as held entries (trimmed, kept) at their next attempt; `waiting`: copies not idle enough yet
 * — the partition is not fully adopted until they are.
 */
export async function keptEntries(
  client: Redis,
  part: PartitionState,
  minIdleMs: number,
): Promise<{ waiting: number; entries: HeldEntry[] }> {
  const reply = (await COPIES.run(client, [part.keptKey])) as unknown[];
  const entries: HeldEntry[] = [];
  let waiting = 0;
  for (let i = 0; i + 2 < reply.length; i += 3) {
    const field = String(reply[i]);
    const colon = field.indexOf(':');
    const lane = field.slice(0, colon) as Priority;
    const id = field.slice(colon + 1);
    if (!part.laneList.includes(lane)) continue; // a lane this layout has not
    const stream = part.streams[lane];
    if (part.holds(stream, id)) continue;
    if (Number(reply[i + 1]) < minIdleMs) {
      waiting++;
      continue;
    }
    let copy: KeptCopy;
    try {
      copy = JSON.parse(String(reply[i + 2])) as KeptCopy;
    } catch {
      continue; // not written by keepTrimmed
    }
    entries.push({
      id,
      stream,
      lane,
      key: copy.key,
      raw: copy.raw ?? undefined,
      attempt: copy.delivered + 1,
      availableAt: 0,
      needsClaim: false,
      state: 'waiting',
      ackFailures: 0,
      trimmed: true,
      kept: true,
    });
  }
  return { waiting, entries };
}
