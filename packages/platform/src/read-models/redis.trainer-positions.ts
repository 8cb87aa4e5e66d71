import { RedisScript } from '@causeway/cqrs-core/redis';
import type Redis from 'ioredis';
import { byTrainerId } from './in-memory.trainer-positions';
import {
  positionFields,
  type TrainerPosition,
  type TrainerPositions,
} from './trainer-positions.port';
import { checkPositionRow } from './read-models.rules';

// KEYS[1] = positions hash, KEYS[2] = its index by updatedAt; ARGV[1] = trainerId,
// ARGV[2] = version, ARGV[3] = row JSON, ARGV[4] = updatedAt.
// → 1 when the row was stored, 0 when the stored row's version is not lower.
const APPLY = new RedisScript(`
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored and tonumber(cjson.decode(stored).version) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return 1`);

// KEYS[1] = positions hash, KEYS[2] = its index; ARGV[1] = since. → the rows (JSON) of the
// trainers updated at or after since. Rows the index lacks (stored by an earlier release) are
// indexed first, once: the hash then has no more fields than the index has members.
const RECENT = new RedisScript(`
if redis.call('HLEN', KEYS[1]) > redis.call('ZCARD', KEYS[2]) then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if not redis.call('ZSCORE', KEYS[2], all[i]) then
      redis.call('ZADD', KEYS[2], tonumber(cjson.decode(all[i + 1]).updatedAt) or 0, all[i])
    end
  end
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], '+inf')
local rows = {}
for i = 1, #ids, 1000 do
  local chunk = redis.call('HMGET', KEYS[1], unpack(ids, i, math.min(i + 999, #ids)))
  for j = 1, #chunk do rows[#rows + 1] = chunk[j] end
end
return rows`);

export interface RedisTrainerPositionsOptions {
  /** The app's shared client. */
  client: Redis;
  /** Prefix of every key (TOPIC_PREFIX + ':' in the apps, a test namespace in tests). */
  keyPrefix?: string;
}

/**
 * TrainerPositions in Redis: one hash `<prefix>read-models:positions`, field trainerId → the
 * row as JSON (its version inside), and its index `<prefix>read-models:positions:updated`, a
 * sorted set of trainerIds by `updatedAt`. `get` is one HGET, `list(ids)` one HMGET, `list()`
 * one HGETALL, `recent(since)` one script (ZRANGEBYSCORE, then HMGET).
 *
 * `apply` is one Lua script that compares the stored version and writes only a greater one:
 * several projection-worker instances (and a catch-up racing the live handler) apply
 * concurrently, and a separate read and write would let an older event overwrite a newer row.
 *
 * Redis is the only copy: when it loses the hash it must lose the projection checkpoint with it
 * (`<prefix>read-models:checkpoints` in projection-worker), so the worker rebuilds from the
 * event store.
 */
export class RedisTrainerPositions implements TrainerPositions {
  readonly key: string;
  readonly indexKey: string;
  private readonly client: Redis;

  constructor(options: RedisTrainerPositionsOptions) {
    this.client = options.client;
    this.key = `${options.keyPrefix ?? ''}read-models:positions`;
    this.indexKey = `${this.key}:updated`;
  }

  async apply(position: TrainerPosition): Promise<boolean> {
    checkPositionRow(position);
    const row = positionFields(position);
    const applied = await APPLY.run(
      this.client,
      [this.key, this.indexKey],
      [row.trainerId, row.version, JSON.stringify(row), row.updatedAt],
    );
    return applied === 1;
  }

  async get(trainerId: string): Promise<TrainerPosition | undefined> {
    const stored = await this.client.hget(this.key, trainerId);
    return stored === null ? undefined : parse(stored);
  }

  async list(trainerIds?: readonly string[]): Promise<TrainerPosition[]> {
    if (trainerIds && trainerIds.length === 0) return [];
    const stored = trainerIds
      ? await this.client.hmget(this.key, ...new Set(trainerIds))
      : Object.values(await this.client.hgetall(this.key));
    return stored.flatMap((json) => (json === null ? [] : [parse(json)])).sort(byTrainerId);
  }

  async recent(since: number): Promise<TrainerPosition[]> {
    const stored = (await RECENT.run(this.client, [this.key, this.indexKey], [since])) as (
      string | null
    )[];
    return stored.flatMap((json) => (json === null ? [] : [parse(json)])).sort(byTrainerId);
  }
}

function parse(json: string): TrainerPosition {
  return positionFields(JSON.parse(json) as TrainerPosition);
}
