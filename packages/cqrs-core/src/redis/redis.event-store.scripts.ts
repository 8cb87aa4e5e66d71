/**
 * Lua scripts of the Redis event store. Redis runs a script to completion before any other
 * command, so each one is a single atomic step: check, assign versions and positions, write.
 *
 * Keys (P = the store's prefix):
 * - `P:seq`            last global position (INCRBY). Positions are consecutive: every position
 *                      up to `P:seq` was written by the script that took it, in the same step.
 * - `P:low`            low-water mark: every position ≤ it was removed (truncation, deletion,
 *                      retention); readAll starts there. Raised by readers as they walk holes.
 * - `P:events`         hash position → event record: the serialized envelope and its streamId as
 *                      JSON, keys `version`, `streamId`, `type` first (redis.event-store.records.ts;
 *                      data kept as serialized text). The position is the field, not in the record.
 * - `P:streams`        set of stream ids (retention walks it)
 * - `P:s:<streamId>`   sorted set, score = version, member = `<position>:<timestamp ms>`
 * - `P:m:<streamId>`   hash head, first (first readable version), soft (soft-deleted at), tomb,
 *                      and `#<messageId>` → version of each readable event (idempotent
 *                      re-appends); one hash, so an append updates head and ids in one HSET.
 *
 * There is no sorted set of all positions (session 3, docs/adr/003): readAll reads the dense
 * positions `from + 1 … P:seq` from `P:events` directly and skips the holes that removals left.
 *
 * The expected-version and idempotency rules mirror src/event-store/event-store.rules.ts.
 */

/** Rules shared by the append and cut scripts: `holds(kind, number, head, first)`. */
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
 * KEYS: meta, stream, events, seq, streams.
 * ARGV: kind, expected number, streamId, n, built, then per event: `#<messageId>`, timestamp ms,
 * record. The client builds each record for the head `built` (record i starts with
 * `{"version":<built + i>,`); when the real head differs, the script rewrites that prefix.
 * The client passes the expected version as `built` when it is a number, so on the common path
 * Lua stores the records untouched.
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
    local v = redis.call('HGET', KEYS[1], ARGV[6 + (i - 1) * 3])
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
local built = tonumber(ARGV[5])
local last = redis.call('INCRBY', KEYS[4], n)
local firstPosition = last - n + 1
-- One variadic command per key, in chunks of CHUNK events (unpack has a stack limit).
local CHUNK = 1000
for from = 1, n, CHUNK do
  local to = math.min(n, from + CHUNK - 1)
  local records, stream, ids = {}, {}, {'head', head + n}
  for i = from, to do
    local base = 6 + (i - 1) * 3
    local version = head + i
    local position = firstPosition + i - 1
    local record = ARGV[base + 2]
    if built ~= head then
      -- '{"version":' is 11 characters, then the digits the client wrote.
      record = '{"version":' .. version .. string.sub(record, 12 + #tostring(built + i))
    end
    local j = (i - from) * 2
    records[j + 1] = position
    records[j + 2] = record
    stream[j + 1] = version
    stream[j + 2] = position .. ':' .. ARGV[base + 1]
    ids[j + 3] = ARGV[base]
    ids[j + 4] = version
  end
  redis.call('HSET', KEYS[3], unpack(records))
  redis.call('ZADD', KEYS[2], unpack(stream))
  redis.call('HSET', KEYS[1], unpack(ids))
end
if meta[4] then redis.call('HDEL', KEYS[1], 'soft') end
-- Nothing removes a stream from the set: only its first append needs to add it.
if head == 0 then redis.call('SADD', KEYS[5], ARGV[3]) end
return {'ok', head + n, firstPosition}
`;

/**
 * Reads the global log. KEYS: events, seq, low. ARGV: from (exclusive), want, budget.
 * Walks positions from + 1 … P:seq (starting at P:low when that is higher) until it has `want`
 * records or has looked at `budget` positions. Every position ≤ P:seq was written by the append
 * that took it, in one atomic step, so a missing record is a hole left by a removal, never an
 * append still under way: the cursor may move past it for ever.
 * Returns {cursor, seq, position, record, position, record, …}; every position ≤ cursor was
 * either returned or is a hole, and cursor = seq means the reader is caught up.
 */
export const READ_ALL_SCRIPT = `
local seq = tonumber(redis.call('GET', KEYS[2])) or 0
local low = tonumber(redis.call('GET', KEYS[3])) or 0
local cursor = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local fromLow = cursor <= low
if fromLow then cursor = low end
local out = {}
local found = 0
local CHUNK = 1000
while found < want and cursor < seq and budget > 0 do
  local to = math.min(seq, cursor + math.min(CHUNK, budget))
  local fields = {}
  for p = cursor + 1, to do fields[p - cursor] = p end
  local values = redis.call('HMGET', KEYS[1], unpack(fields))
  local stop = to
  for k = 1, #fields do
    local record = values[k]
    if record then
      if fromLow then
        -- Everything below the first record found is a hole for ever.
        if cursor + k - 1 > low then redis.call('SET', KEYS[3], cursor + k - 1) end
        fromLow = false
      end
      found = found + 1
      out[found * 2 + 1] = cursor + k
      out[found * 2 + 2] = record
      if found == want then
        stop = cursor + k
        break
      end
    end
  end
  budget = budget - (stop - cursor)
  cursor = stop
end
if fromLow and cursor > low then redis.call('SET', KEYS[3], cursor) end
out[1] = cursor
out[2] = seq
return out
`;

/**
 * Reads one stream in one round trip. KEYS: stream, events.
 * ARGV: low, high (ZRANGEBYSCORE bounds), count (-1 = all), 'backwards' | 'forwards'.
 * Returns {position, record, position, record, …} in the order read; records removed meanwhile
 * cannot be missing (the script is atomic), so every index entry has its record.
 */
export const READ_STREAM_SCRIPT = `
local members
if ARGV[4] == 'backwards' then
  members = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[1], 'LIMIT', 0, ARGV[3])
else
  members = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
end
local out = {}
local CHUNK = 1000
for from = 1, #members, CHUNK do
  local to = math.min(#members, from + CHUNK - 1)
  local positions = {}
  for i = from, to do positions[i - from + 1] = string.match(members[i], '^(%d+):') end
  local records = redis.call('HMGET', KEYS[2], unpack(positions))
  for k = 1, #positions do
    if records[k] then
      out[#out + 1] = positions[k]
      out[#out + 1] = records[k]
    end
  end
end
return out
`;

/**
 * Removes a prefix of a stream. KEYS: meta, stream, events.
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
  local CHUNK = 1000
  for from = 1, #members, CHUNK do
    local positions = {}
    for i = from, math.min(#members, from + CHUNK - 1) do
      positions[i - from + 1] = string.match(members[i], '^(%d+):')
    end
    redis.call('HDEL', KEYS[3], unpack(positions))
  end
  removed = #members
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. before)
  local fields = redis.call('HGETALL', KEYS[1])
  local gone = {}
  for i = 1, #fields, 2 do
    local field = fields[i]
    if string.byte(field, 1) == 35 and tonumber(fields[i + 1]) < before then
      gone[#gone + 1] = field
      if #gone == CHUNK then
        redis.call('HDEL', KEYS[1], unpack(gone))
        gone = {}
      end
    end
  end
  if #gone > 0 then redis.call('HDEL', KEYS[1], unpack(gone)) end
  redis.call('HSET', KEYS[1], 'first', before)
end
if mode == 'hard' then redis.call('HSET', KEYS[1], 'tomb', '1', 'head', head) end
if mode == 'soft' then redis.call('HSET', KEYS[1], 'soft', head) end
return {'ok', removed}
`;
