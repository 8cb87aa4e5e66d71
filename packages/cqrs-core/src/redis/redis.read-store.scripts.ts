import { RedisScript } from './redis.script';

/*
 * The RedisReadStore's writes, each one script so that a row, its index sets and its expiry
 * never disagree. Keys under the prefix P (ARGV[1]): `P r:<id>` the row ("<version>|<json>",
 * version empty when none), `P ids` every live id, `P exp` ids by expiry time (ms), `P m:<id>`
 * the index sets the id is in, `P i:<field and value>` the ids holding that value.
 *
 * Every script first purges the rows whose expiry has passed (by Redis's clock, TIME), so the
 * index sets only hold live ids once a write ran; the row keys themselves expire by PEXPIREAT
 * at the same time, so a read of a row never sees it late.
 */
const PRELUDE = `
local p = ARGV[1]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function unindex(id)
  local member = p .. 'm:' .. id
  for _, key in ipairs(redis.call('SMEMBERS', member)) do redis.call('SREM', key, id) end
  redis.call('DEL', member)
  redis.call('SREM', p .. 'ids', id)
  redis.call('ZREM', p .. 'exp', id)
end
local expired = redis.call('ZRANGEBYSCORE', p .. 'exp', '-inf', now)
for _, id in ipairs(expired) do
  unindex(id)
  redis.call('DEL', p .. 'r:' .. id)
end
-- True when the stored row has a version at or above ARGV[n] (then the write must not land).
local function newer(stored, n)
  if not stored or ARGV[n] == '' then return false end
  local version = string.match(stored, '^(%d*)|')
  return version ~= '' and tonumber(version) >= tonumber(ARGV[n])
end
`;

/** ARGV: prefix, id, stored value, version ('' none), ttl ms ('' none), index set keys… → 1 | 0. */
export const PUT_ROW = new RedisScript(`${PRELUDE}
local id = ARGV[2]
local row = p .. 'r:' .. id
if newer(redis.call('GET', row), 4) then return 0 end
unindex(id)
redis.call('SET', row, ARGV[3])
redis.call('SADD', p .. 'ids', id)
for i = 6, #ARGV do
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

/** ARGV: prefix → how many expired rows it removed. */
export const PURGE_EXPIRED = new RedisScript(`${PRELUDE}
return #expired`);

/** ARGV: prefix → how many rows it removed. One script: a large store blocks Redis meanwhile. */
export const CLEAR_ROWS = new RedisScript(`${PRELUDE}
local ids = redis.call('SMEMBERS', p .. 'ids')
for _, id in ipairs(ids) do
  unindex(id)
  redis.call('DEL', p .. 'r:' .. id)
end
redis.call('DEL', p .. 'ids', p .. 'exp')
return #ids`);
