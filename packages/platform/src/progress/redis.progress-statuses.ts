import { type ProgressStatus } from '@causeway/contracts';
import { RedisScript } from '@causeway/cqrs-core/redis';
import type Redis from 'ioredis';
import {
  byRecentUpdate,
  DEFAULT_TASKS_PER_USER,
  isAfter,
  type ProgressStatuses,
  type TaskPosition,
} from './progress-statuses.port';

// KEYS[1] = the task's key, KEYS[2] = its user's index; ARGV[1] = taskId, ARGV[2] = eventCount,
// ARGV[3] = status JSON, ARGV[4] = updatedAt (epoch ms), ARGV[5] = expires at (epoch ms).
// → 1 when stored, 0 when the stored status is not older or the status has expired already.
const APPLY = new RedisScript(`
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local expiresAt = tonumber(ARGV[5])
if expiresAt <= nowMs then return 0 end
local stored = redis.call('GET', KEYS[1])
if stored and tonumber(cjson.decode(stored).eventCount) >= tonumber(ARGV[2]) then return 0 end
-- The index first: a script stopped by an error keeps what it wrote before, and ZADD is the
-- write that can fail (a key of another type). Failing, it leaves the status as it was.
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('SET', KEYS[1], ARGV[3], 'PXAT', expiresAt)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (nowMs - (expiresAt - tonumber(ARGV[4]))))
if redis.call('PEXPIRETIME', KEYS[2]) < expiresAt then redis.call('PEXPIREAT', KEYS[2], expiresAt) end
return 1`);

// KEYS[1] = the user's index; ARGV[1] = the prefix of task keys, ARGV[2] = the newest score to
// list ('+inf', or the cursor's), ARGV[3] = the oldest score, exclusive ('(<ms>'), ARGV[4] = '1'
// after a cursor, ARGV[5] = how many. → the statuses (JSON) of that many index entries from the
// newest down, those tied at the cursor's score on top (the caller skips the ones not after it)
// and every entry tied at the last score (ties are ordered by taskId). One script, so the index
// and the statuses are read at one instant: a status moving between two separate reads changed
// its row but not the range read, and the page came short (review, session 38).
const OF_USER = new RedisScript(`
local key = KEYS[1]
local extra = 0
if ARGV[4] == '1' then extra = redis.call('ZCOUNT', key, ARGV[2], ARGV[2]) end
local newest = redis.call('ZREVRANGEBYSCORE', key, ARGV[2], ARGV[3], 'LIMIT', 0, tonumber(ARGV[5]) + extra)
if #newest == 0 then return {} end
local last = redis.call('ZSCORE', key, newest[#newest])
local seen = {}
local rows = {}
local function add(id)
  if seen[id] then return end
  seen[id] = true
  local row = redis.call('GET', ARGV[1] .. id)
  if row then rows[#rows + 1] = row end
end
for _, id in ipairs(newest) do add(id) end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', key, last, last)) do add(id) end
return rows`);

export interface RedisProgressStatusesOptions {
  /** The app's shared client. */
  client: Redis;
  /** Prefix of every key (TOPIC_PREFIX + ':' in the apps, a test namespace in tests). */
  keyPrefix?: string;
  /** How long a status is kept after its `updatedAt` (S3-7). */
  ttlMs: number;
}

/**
 * ProgressStatuses in Redis: one string per task, `<prefix>progress:task:<taskId>` (the status
 * as JSON), expiring `ttlMs` after its `updatedAt` (PXAT), and one sorted set per user,
 * `<prefix>progress:user:<userId>`, of task ids by `updatedAt`, trimmed of expired tasks on every
 * apply and expiring with the user's newest task. `apply` is one Lua script (compare the stored
 * `eventCount`, write only a greater one): several order-processor instances, and a redelivery
 * racing a newer step, would otherwise let an older state overwrite a newer one. `get` is one GET,
 * `ofUser` one script reading the index range and its statuses (after a page, from the cursor's
 * score down).
 */
export class RedisProgressStatuses implements ProgressStatuses {
  private readonly client: Redis;
  private readonly prefix: string;

  constructor(private readonly options: RedisProgressStatusesOptions) {
    this.client = options.client;
    this.prefix = `${options.keyPrefix ?? ''}progress:`;
  }

  async apply(status: ProgressStatus): Promise<boolean> {
    const updatedAt = Date.parse(status.updatedAt);
    const stored = await APPLY.run(
      this.client,
      [this.taskKey(status.taskId), this.userKey(status.userId)],
      [
        status.taskId,
        status.eventCount,
        JSON.stringify(status),
        updatedAt,
        updatedAt + this.options.ttlMs,
      ],
    );
    return stored === 1;
  }

  async get(taskId: string): Promise<ProgressStatus | undefined> {
    const stored = await this.client.get(this.taskKey(taskId));
    return stored === null ? undefined : (JSON.parse(stored) as ProgressStatus);
  }

  async ofUser(
    userId: string,
    limit = DEFAULT_TASKS_PER_USER,
    before?: TaskPosition,
  ): Promise<ProgressStatus[]> {
    if (limit <= 0) return [];
    const oldest = Date.now() - this.options.ttlMs;
    const rows = (await OF_USER.run(
      this.client,
      [this.userKey(userId)],
      [
        this.taskKey(''),
        before ? String(Date.parse(before.updatedAt)) : '+inf',
        `(${oldest}`,
        before ? '1' : '0',
        limit,
      ],
    )) as string[];
    return rows
      .map((json) => JSON.parse(json) as ProgressStatus)
      .filter((row) => row.userId === userId && isAfter(row, before))
      .sort(byRecentUpdate)
      .slice(0, limit);
  }

  private taskKey(taskId: string): string {
    return `${this.prefix}task:${taskId}`;
  }

  private userKey(userId: string): string {
    return `${this.prefix}user:${userId}`;
  }
}
