/**
 * Lua scripts of the Redis event store. Redis runs a script to completion before any other
 * command, so each one is a single atomic step: check, assign versions and positions, write.
 *
 * Keys (P = the store's prefix):
 * - `P:seq`            last global position (INCRBY)
 * - `P:log`            sorted set, score = member = position of every readable event
 * - `P:events`         hash position → event record (JSON, data kept as serialized text)
 * - `P:streams`        set of stream ids (retention walks it)
 * - `P:s:<streamId>`   sorted set, score = version, member = `<position>:<timestamp ms>`
 * - `P:m:<streamId>`   hash head, first (first readable version), soft (soft-deleted at), tomb
 * - `P:i:<streamId>`   hash messageId → version of readable events (idempotent re-appends)
 *
 * The expected-version and idempotency rules mirror src/event-store/event-store.rules.ts.
 */

/** Rules shared by both scripts: `holds(kind, number, head, first)`. */
const HOLDS = `
local function holds(kind, expected, head, first)
  local visible = head > 0 and head >= first
  if kind == 'any' then return true end
  if kind == 'no-stream' then return not visible end
  if kind == 'exists' then return visible end
  return head == tonumber(expected)
end
`;

/**
 * KEYS: meta, stream, ids, events, log, seq, streams.
 * ARGV: kind, expected number, streamId, n, then per event: messageId, timestamp ms, body
 * (the record's JSON without its opening brace; the script prefixes version and position).
 * Returns {'ok', head, firstPosition} | {'duplicate', lastVersion} | {'conflict', head} | {'deleted', head}.
 */
export const APPEND_SCRIPT = `${HOLDS}
local meta = redis.call('HMGET', KEYS[1], 'head', 'first', 'tomb', 'soft')
local head = tonumber(meta[1]) or 0
local first = tonumber(meta[2]) or 1
if meta[3] then return {'deleted', head} end
local kind = ARGV[1]
local n = tonumber(ARGV[4])
local ok = holds(kind, ARGV[2], head, first)
if (not ok) or kind == 'any' or kind == 'exists' then
  local firstVersion = false
  local none = true
  local consecutive = true
  for i = 1, n do
    local v = redis.call('HGET', KEYS[3], ARGV[5 + (i - 1) * 3])
    if v then
      none = false
      v = tonumber(v)
    end
    if i == 1 then firstVersion = v end
    if (not v) or (not firstVersion) or v ~= firstVersion + i - 1 then consecutive = false end
  end
  if not none then
    if consecutive then return {'duplicate', firstVersion + n - 1} end
    return {'conflict', head}
  end
  if not ok then return {'conflict', head} end
end
if n == 0 then return {'ok', head, 0} end
local last = redis.call('INCRBY', KEYS[6], n)
local firstPosition = last - n + 1
-- One variadic command per key, in chunks of CHUNK events (unpack has a stack limit).
local CHUNK = 1000
for from = 1, n, CHUNK do
  local to = math.min(n, from + CHUNK - 1)
  local records, log, stream, ids = {}, {}, {}, {}
  for i = from, to do
    local base = 5 + (i - 1) * 3
    local version = head + i
    local position = firstPosition + i - 1
    local j = (i - from) * 2
    records[j + 1] = position
    records[j + 2] = '{"version":' .. version .. ',"position":' .. position .. ',' .. ARGV[base + 2]
    log[j + 1] = position
    log[j + 2] = position
    stream[j + 1] = version
    stream[j + 2] = position .. ':' .. ARGV[base + 1]
    ids[j + 1] = ARGV[base]
    ids[j + 2] = version
  end
  redis.call('HSET', KEYS[4], unpack(records))
  redis.call('ZADD', KEYS[5], unpack(log))
  redis.call('ZADD', KEYS[2], unpack(stream))
  redis.call('HSET', KEYS[3], unpack(ids))
end
redis.call('HSET', KEYS[1], 'head', head + n)
if meta[4] then redis.call('HDEL', KEYS[1], 'soft') end
-- Nothing removes a stream from the set: only its first append needs to add it.
if head == 0 then redis.call('SADD', KEYS[7], ARGV[3]) end
return {'ok', head + n, firstPosition}
`;

/**
 * Removes a prefix of a stream. KEYS: meta, stream, ids, events, log.
 * ARGV: mode ('truncate' | 'soft' | 'hard' | 'retention'), beforeVersion, expected kind ('' = none),
 * expected number, maxCount ('' = none), cutoff ms ('' = none).
 * Returns {'ok', removed} | {'conflict', head} | {'deleted', head}.
 */
export const CUT_SCRIPT = `${HOLDS}
local meta = redis.call('HMGET', KEYS[1], 'head', 'first', 'tomb')
local head = tonumber(meta[1]) or 0
local first = tonumber(meta[2]) or 1
local mode = ARGV[1]
local before = first
if mode == 'soft' or mode == 'hard' then
  if meta[3] then
    if mode == 'hard' then return {'ok', 0} end
    return {'deleted', head}
  end
  if ARGV[3] ~= '' and not holds(ARGV[3], ARGV[4], head, first) then return {'conflict', head} end
  if mode == 'soft' and head == 0 then return {'ok', 0} end
  before = head + 1
elseif mode == 'truncate' then
  before = tonumber(ARGV[2])
else
  if ARGV[5] ~= '' then before = math.max(before, head - tonumber(ARGV[5]) + 1) end
  if ARGV[6] ~= '' then
    local cutoff = tonumber(ARGV[6])
    local members = redis.call('ZRANGEBYSCORE', KEYS[2], first, '+inf', 'WITHSCORES')
    for i = 1, #members, 2 do
      local ts = tonumber(string.match(members[i], ':(.*)$'))
      if ts and ts < cutoff then before = math.max(before, tonumber(members[i + 1]) + 1) else break end
    end
  end
end
if before > head + 1 then before = head + 1 end
local removed = 0
if before > first then
  local members = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. before)
  for _, member in ipairs(members) do
    local position = string.match(member, '^(%d+):')
    redis.call('HDEL', KEYS[4], position)
    redis.call('ZREM', KEYS[5], position)
  end
  removed = #members
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. before)
  local ids = redis.call('HGETALL', KEYS[3])
  for i = 1, #ids, 2 do
    if tonumber(ids[i + 1]) < before then redis.call('HDEL', KEYS[3], ids[i]) end
  end
  redis.call('HSET', KEYS[1], 'first', before)
end
if mode == 'hard' then redis.call('HSET', KEYS[1], 'tomb', '1', 'head', head) end
if mode == 'soft' then redis.call('HSET', KEYS[1], 'soft', head) end
return {'ok', removed}
`;
