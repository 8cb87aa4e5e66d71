import { RedisScript } from './redis.script';
/**
 * Lua scripts of the Redis event store. Redis runs a script to completion before any other
 * command, so each one is a single atomic step: check, assign versions and positions, write.
 *
 * Keys (P = the store's prefix):
 * - `P:layout`         version of this key layout ({@link LAYOUT}); init() refuses a prefix that
 *                      holds data of another one.
 * - `P:seq`            last global position (INCRBY). Positions are consecutive: every position
 *                      up to `P:seq` was written by the script that took it, in the same step.
 * - `P:low`            low-water mark: every position ≤ it was removed (truncation, deletion,
 *                      retention); readAll starts there. Raised by readers as they walk holes.
 * - `P:events`         hash position → event record: the serialized envelope and its streamId as
 *                      JSON, keys `version`, `streamId`, `type` first (redis.event-store.records.ts;
 *                      data kept as serialized text). The position is the field, not in the record.
 * - `P:streams`        set of stream ids (retention walks it)
 * - `P:s:<streamId>`   the stream index, one entry per commit (the events of one append, which
 *                      have consecutive versions and consecutive positions): sorted set, score =
 *                      first version, member = `<first position>:<count>` (unique, as positions
 *                      are). The readable commits tile the versions first … head without gaps;
 *                      a cut inside a commit replaces it by its remainder.
 * - `P:m:<streamId>`   hash head, first (first readable version), soft (soft-deleted at), tomb,
 *                      cut (set by a truncate or retention that removed events, removed by a
 *                      delete: StreamInfo.truncated; session 49), and `#<messageId>` → version
 *                      of each readable event (idempotent re-appends); one hash, so an append
 *                      updates head and ids in one HSET.
 *
 * There is no sorted set of all positions (session 3, docs/adr/003): readAll reads the dense
 * positions `from + 1 … P:seq` from `P:events` directly and skips the holes that removals left.
 *
 * Event timestamps are not in any index: retention by age reads the records (see
 * RedisEventStore.applyRetention).
 *
 * The expected-version and idempotency rules mirror src/event-store/event-store.rules.ts.
 */

/**
 * Version of the key layout above, kept in `P:layout`. Layout 1 (before session 4, no
 * `P:layout` key) indexed every event as `<position>:<timestamp>` by version.
 */
export const LAYOUT = '2';

/**
 * Records the layout of a prefix on first use. KEYS: layout, seq. ARGV: layout.
 * Returns the layout the prefix holds: ARGV[1] when it was empty or already of this layout,
 * '1' for data written before layouts were recorded (positions taken, no `P:layout`).
 */
export const LAYOUT_SCRIPT = new RedisScript(`
local layout = redis.call('GET', KEYS[1])
if layout then return layout end
if redis.call('EXISTS', KEYS[2]) == 1 then return '1' end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`);

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
 * ARGV: kind, expected number, streamId, n, built, then n pairs (placeholder, record), then n
 * pairs (`#<messageId>`, version): 5 + 4n values. The client builds both for the head `built`:
 * record i starts with `{"version":<built + i>,` and its pair's version is built + i, so when
 * the head is `built` (always when a numeric expected version holds: the client passes it as
 * `built`) the script writes the arguments as they came, each kind with one variadic command
 * (`unpack` of a slice of ARGV, in chunks of CHUNK events: unpack has a stack limit). It only
 * writes the positions into the placeholders; when the real head differs it rewrites the
 * records' version prefix and the pairs' versions.
 * The append is one commit: one entry in the stream index, whatever its size.
 * Returns {'ok', head, firstPosition} | {'duplicate', lastVersion} | {'conflict', head} |
 * {'overlap', head} (the expected version held, but the batch partly matches stored events) |
 * {'deleted', head}.
 */
export const APPEND_SCRIPT = new RedisScript(`${HOLDS}
local meta = redis.call('HMGET', KEYS[1], 'head', 'first', 'tomb', 'soft')
local head = tonumber(meta[1]) or 0
local first = tonumber(meta[2]) or 1
if meta[3] then return {'deleted', head} end
local kind = ARGV[1]
local n = tonumber(ARGV[4])
-- ARGV index of the first messageId; messageId i is at ids + 2(i - 1), its version right after.
local ids = 6 + 2 * n
local CHUNK = 1000
local ok = holds(kind, ARGV[2], head, first)
if (not ok) or kind == 'any' or kind == 'exists' then
  local firstVersion = false
  local none = true
  local consecutive = true
  for from = 1, n, CHUNK do
    local to = math.min(n, from + CHUNK - 1)
    local fields = {}
    for i = from, to do fields[i - from + 1] = ARGV[ids + 2 * (i - 1)] end
    local versions = redis.call('HMGET', KEYS[1], unpack(fields))
    for i = from, to do
      local v = versions[i - from + 1]
      if v then
        none = false
        v = tonumber(v)
      end
      if i == 1 then firstVersion = v end
      if (not v) or (not firstVersion) or v ~= firstVersion + i - 1 then consecutive = false end
    end
  end
  if not none then
    if consecutive then return {'duplicate', firstVersion + n - 1} end
    -- The expected version held: the batch is what conflicts.
    if ok then return {'overlap', head} end
    return {'conflict', head}
  end
  if not ok then return {'conflict', head} end
end
if n == 0 then return {'ok', head, 0} end
local built = tonumber(ARGV[5])
local last = redis.call('INCRBY', KEYS[4], n)
local firstPosition = last - n + 1
if built ~= head then
  for i = 1, n do
    -- '{"version":' is 11 characters, then the digits the client wrote.
    local r = 5 + 2 * i
    ARGV[r] = '{"version":' .. (head + i) .. string.sub(ARGV[r], 12 + #tostring(built + i))
    ARGV[ids + 2 * i - 1] = head + i
  end
end
for i = 1, n do ARGV[4 + 2 * i] = firstPosition + i - 1 end
for from = 1, n, CHUNK do
  local to = math.min(n, from + CHUNK - 1)
  redis.call('HSET', KEYS[3], unpack(ARGV, 4 + 2 * from, 5 + 2 * to))
  redis.call('HSET', KEYS[1], 'head', head + n, unpack(ARGV, ids + 2 * (from - 1), ids + 2 * to - 1))
end
redis.call('ZADD', KEYS[2], head + 1, firstPosition .. ':' .. n)
if meta[4] then redis.call('HDEL', KEYS[1], 'soft') end
-- Nothing removes a stream from the set: only its first append needs to add it.
if head == 0 then redis.call('SADD', KEYS[5], ARGV[3]) end
return {'ok', head + n, firstPosition}
`);

/**
 * Reads the global log. KEYS: events, seq, low. ARGV: from (exclusive), want, budget.
 * Walks positions from + 1 … P:seq (starting at P:low when that is higher) until it has `want`
 * records or has looked at `budget` positions. Every position ≤ P:seq was written by the append
 * that took it, in one atomic step, so a missing record is a hole left by a removal, never an
 * append still under way: the cursor may move past it for ever.
 * Returns {cursor, seq, position, record, position, record, …}; every position ≤ cursor was
 * either returned or is a hole, and cursor = seq means the reader is caught up.
 */
export const READ_ALL_SCRIPT = new RedisScript(`
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
`);

/**
 * Reads one stream in one round trip. KEYS: stream, events.
 * ARGV: low, high (the versions wanted, inclusive; '' = unbounded), count (< 0 = all),
 * 'backwards' | 'forwards'.
 * Finds the commit holding `low` (the last one starting at or below it), takes it and the
 * following commits up to `high` (at most `count` of them: each holds at least one event),
 * expands them to the positions of the versions wanted and HMGETs those.
 * Returns {position, record, position, record, …} in the order read; records removed meanwhile
 * cannot be missing (the script is atomic), so every index entry has its records.
 */
export const READ_STREAM_SCRIPT = new RedisScript(`
local low = tonumber(ARGV[1]) or -math.huge
local high = tonumber(ARGV[2]) or math.huge
local count = tonumber(ARGV[3])
if count == 0 then return {} end
if count < 0 then count = math.huge end
local backwards = ARGV[4] == 'backwards'
local lowest = '-inf'
if ARGV[1] ~= '' then
  local holding = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if holding[2] then lowest = holding[2] end
end
local highest = '+inf'
if ARGV[2] ~= '' then highest = ARGV[2] end
local limit = ARGV[3]
if count == math.huge then limit = -1 end
local commits
if backwards then
  commits = redis.call('ZREVRANGEBYSCORE', KEYS[1], highest, lowest, 'WITHSCORES', 'LIMIT', 0, limit)
else
  commits = redis.call('ZRANGEBYSCORE', KEYS[1], lowest, highest, 'WITHSCORES', 'LIMIT', 0, limit)
end
local out = {}
local positions = {}
local found = 0
local CHUNK = 1000
local function flush()
  local records = redis.call('HMGET', KEYS[2], unpack(positions))
  for k = 1, #positions do
    if records[k] then
      out[#out + 1] = positions[k]
      out[#out + 1] = records[k]
    end
  end
  positions = {}
end
for c = 1, #commits, 2 do
  local position, size = string.match(commits[c], '^(%d+):(%d+)$')
  position = tonumber(position)
  local version = tonumber(commits[c + 1])
  local from = math.max(low, version)
  local to = math.min(high, version + tonumber(size) - 1)
  local step = 1
  if backwards then from, to, step = to, from, -1 end
  for v = from, to, step do
    positions[#positions + 1] = position + v - version
    found = found + 1
    if #positions == CHUNK then flush() end
    if found == count then break end
  end
  if found == count then break end
end
if #positions > 0 then flush() end
return out
`);

/**
 * Removes a prefix of a stream. KEYS: meta, stream, events.
 * ARGV: mode ('truncate' | 'soft' | 'hard' | 'retention'), beforeVersion (for retention: the
 * cut that age retention found, 0 = none), expected kind ('' = none), expected number,
 * maxCount ('' = none), maxPosition ('' = none: retention keeps the events after it).
 * Removes the commits that end below the cut and replaces one that straddles it by its
 * remainder (score = the cut, member = its first kept position and count).
 * Returns {'ok', removed} | {'conflict', head} | {'deleted', head}.
 */
export const CUT_SCRIPT = new RedisScript(`${HOLDS}
-- Deletes the fields of hash 'key' given to add(), 1000 per HDEL (unpack has a stack limit).
local function deleter(key)
  local batch = {}
  local self = {}
  function self.flush()
    if #batch > 0 then redis.call('HDEL', key, unpack(batch)) end
    batch = {}
  end
  function self.add(field)
    batch[#batch + 1] = field
    if #batch == 1000 then self.flush() end
  end
  return self
end
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
  before = math.max(before, tonumber(ARGV[2]))
  if ARGV[5] ~= '' then before = math.max(before, head - tonumber(ARGV[5]) + 1) end
  if ARGV[6] ~= '' and before > first then
    -- Not past the first event after maxPosition (a commit's events have consecutive positions).
    local limit = tonumber(ARGV[6])
    local commits = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. before, 'WITHSCORES')
    for c = 1, #commits, 2 do
      local position, size = string.match(commits[c], '^(%d+):(%d+)$')
      position = tonumber(position)
      if position + tonumber(size) - 1 > limit then
        before = math.min(before, tonumber(commits[c + 1]) + math.max(0, limit - position + 1))
        break
      end
    end
  end
end
if before > head + 1 then before = head + 1 end
local removed = 0
if before > first then
  local commits = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. before, 'WITHSCORES')
  local events = deleter(KEYS[3])
  local rest = false
  for c = 1, #commits, 2 do
    local position, size = string.match(commits[c], '^(%d+):(%d+)$')
    position = tonumber(position)
    size = tonumber(size)
    -- Events of this commit below the cut: all of them, or the first ones of a straddling commit.
    local cut = math.min(size, before - tonumber(commits[c + 1]))
    for p = position, position + cut - 1 do events.add(p) end
    removed = removed + cut
    if cut < size then rest = (position + cut) .. ':' .. (size - cut) end
  end
  events.flush()
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. before)
  if rest then redis.call('ZADD', KEYS[2], before, rest) end
  local fields = redis.call('HGETALL', KEYS[1])
  local ids = deleter(KEYS[1])
  for i = 1, #fields, 2 do
    local field = fields[i]
    if string.byte(field, 1) == 35 and tonumber(fields[i + 1]) < before then ids.add(field) end
  end
  ids.flush()
  redis.call('HSET', KEYS[1], 'first', before)
  if mode == 'truncate' or mode == 'retention' then redis.call('HSET', KEYS[1], 'cut', '1') end
end
if mode == 'hard' then redis.call('HSET', KEYS[1], 'tomb', '1', 'head', head) end
if mode == 'soft' then redis.call('HSET', KEYS[1], 'soft', head) end
-- A deleted stream's history is gone on purpose: created again, nothing of it was cut.
if mode == 'soft' or mode == 'hard' then redis.call('HDEL', KEYS[1], 'cut') end
return {'ok', removed}
`);
