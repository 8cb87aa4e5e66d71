import { RedisScript } from './redis.script';

/*
 * The RedisReadStore's writes, each one script so that a row, its index sets and its expiry
 * never disagree. Keys under the prefix P (ARGV[1]): `P r:<id>` the row ("<version>|<json>",
 * version empty when none), `P ids` every live id, `P exp` ids by expiry time (ms), `P m:<id>`
 * the index sets the id is in, `P i:<field and value>` the ids holding that value, `P meta` a
 * hash: `indexed` the list of indexed fields the index sets were built for (JSON, sorted),
 * `reindexing` present while a reindex to that list has not finished.
 *
 * Every script first purges up to PURGE_PER_WRITE rows whose expiry has passed (by Redis's
 * clock, TIME): bounded, since a script blocks Redis while it runs, and a purge of every expired
 * row took 400 ms after 50 000 expired at once. The rest wait for later writes or for
 * purgeExpired(), which loops in bounded batches; meanwhile the index sets may still hold
 * expired ids, which queries skip: the row keys themselves expire by PEXPIREAT at the expiry, so
 * a read never sees an expired row.
 */
const PURGE_PER_WRITE = 100;
const PRELUDE = `
local p = ARGV[1]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- Takes the id out of its index sets.
local function unlink(id)
  local member = p .. 'm:' .. id
  for _, key in ipairs(redis.call('SMEMBERS', member)) do redis.call('SREM', key, id) end
  redis.call('DEL', member)
end
-- Takes the id out of its index sets, the ids and the expiries.
local function unindex(id)
  unlink(id)
  redis.call('SREM', p .. 'ids', id)
  redis.call('ZREM', p .. 'exp', id)
end
-- Removes up to limit expired rows (ids, index sets, keys); how many it removed.
local function purge(limit)
  local expired = redis.call('ZRANGEBYSCORE', p .. 'exp', '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(expired) do
    unindex(id)
    redis.call('DEL', p .. 'r:' .. id)
  end
  return #expired
end
local purged = purge(${PURGE_PER_WRITE})
-- True when the stored row has a version at or above ARGV[n] (then the write must not land).
local function newer(stored, n)
  if not stored or ARGV[n] == '' then return false end
  local version = string.match(stored, '^(%d*)|')
  return version ~= '' and tonumber(version) >= tonumber(ARGV[n])
end
`;

/**
 * ARGV: prefix, id, stored value, version ('' none), ttl ms ('' none), indexed list (JSON),
 * index set keys… → 1 | 0, or { 'indexed', the recorded list } when the index sets were built
 * for another list (nothing written: its index sets would be wrong). The first put records it.
 */
export const PUT_ROW = new RedisScript(`${PRELUDE}
local id = ARGV[2]
local row = p .. 'r:' .. id
local recorded = redis.call('HGET', p .. 'meta', 'indexed')
if not recorded then
  redis.call('HSET', p .. 'meta', 'indexed', ARGV[6])
elseif recorded ~= ARGV[6] then
  return { 'indexed', recorded }
end
if newer(redis.call('GET', row), 4) then return 0 end
unindex(id)
redis.call('SET', row, ARGV[3])
redis.call('SADD', p .. 'ids', id)
for i = 7, #ARGV do
  redis.call('SADD', ARGV[i], id)
  redis.call('SADD', p .. 'm:' .. id, ARGV[i])
end
if ARGV[5] ~= '' then
  local at = now + tonumber(ARGV[5])
  redis.call('PEXPIREAT', row, at)
  redis.call('ZADD', p .. 'exp', at, id)
end
return 1`);

/** ARGV: prefix, id, version ('' none) → 1 when a row was deleted. */
export const DELETE_ROW = new RedisScript(`${PRELUDE}
local id = ARGV[2]
local row = p .. 'r:' .. id
local stored = redis.call('GET', row)
if not stored or newer(stored, 3) then return 0 end
unindex(id)
redis.call('DEL', row)
return 1`);

/**
 * ARGV: prefix, batch size → { how many expired rows it removed, 1 when more remain expired }.
 * One batch per call, so that purging a large backlog never blocks Redis at once.
 */
export const PURGE_EXPIRED = new RedisScript(`${PRELUDE}
purged = purged + purge(tonumber(ARGV[2]))
local more = #redis.call('ZRANGEBYSCORE', p .. 'exp', '-inf', now, 'LIMIT', 0, 1)
return { purged, more }`);

/**
 * ARGV: prefix, batch size → { how many rows it removed, 1 when rows remain }. One batch per
 * call, as PURGE_EXPIRED: one script over every row of a large store blocked Redis meanwhile.
 * The last batch (no id left) also drops the expiries and the meta: empty, the store's index
 * sets fit any list, and the next put or init records its own.
 */
export const CLEAR_ROWS = new RedisScript(`${PRELUDE}
local ids = redis.call('SPOP', p .. 'ids', tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  unindex(id)
  redis.call('DEL', p .. 'r:' .. id)
end
if redis.call('SCARD', p .. 'ids') > 0 then return { #ids, 1 } end
redis.call('DEL', p .. 'exp', p .. 'meta')
return { #ids, 0 }`);

/**
 * ARGV: prefix, n (fields in the list), then per row: id, its stored value as read, its n index
 * set keys → how many rows it re-indexed. A row whose value changed since it was read (a put
 * meanwhile indexed it by the new list; or it expired, or was deleted) is left as it is.
 */
export const REINDEX_ROWS = new RedisScript(`${PRELUDE}
local n = tonumber(ARGV[2])
local done = 0
for i = 3, #ARGV, n + 2 do
  local id = ARGV[i]
  if redis.call('GET', p .. 'r:' .. id) == ARGV[i + 1] then
    unlink(id)
    for j = i + 2, i + 1 + n do
      redis.call('SADD', ARGV[j], id)
      redis.call('SADD', p .. 'm:' .. id, ARGV[j])
    end
    done = done + 1
  end
end
return done`);

/** KEYS: the meta hash. ARGV: the indexed list (JSON) → the recorded list (this one if none was). */
export const RECORD_INDEXED = new RedisScript(`
local recorded = redis.call('HGET', KEYS[1], 'indexed')
if recorded then return recorded end
redis.call('HSET', KEYS[1], 'indexed', ARGV[1])
return ARGV[1]`);
