import { randomUUID } from 'node:crypto';
import { RedisScript } from '@causeway/cqrs-core/redis';
import type Redis from 'ioredis';
import {
  type IdempotencyBegin,
  type IdempotencyStart,
  type IdempotencyStore,
  type StoredAnswer,
} from './idempotency-store.port';

// One hash per key: fingerprint (the request the key is bound to: kept through a release with
// keepStart and a lapsed lease), token, leaseUntil and fresh while in flight, answer once completed,
// startedAt always (the first start's time, kept through releases and lapsed leases). The key's
// TTL is how long it is remembered; the lease is a field, on Redis's clock (TIME), so a lapsed
// lease frees the key without forgetting when it was first started. A hash written before
// leaseUntil existed (token without it) is in flight until its TTL, as it was then.
const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;
// KEYS[1] = key, ARGV[1] = fingerprint, ARGV[2] = token, ARGV[3] = lease ms,
// ARGV[4] = this attempt's time (epoch ms), ARGV[5] = keep ms
const BEGIN = new RedisScript(`${NOW}
local fields = redis.call('HMGET', KEYS[1], 'fingerprint', 'answer', 'token', 'leaseUntil', 'startedAt')
local fingerprint, answer, token, leaseUntil, startedAt = fields[1], fields[2], fields[3], fields[4], fields[5]
if fingerprint and fingerprint ~= ARGV[1] then return {'mismatch'} end
if answer or (token and (not leaseUntil or tonumber(leaseUntil) > now)) then
  if answer then return {'completed', answer} end
  return {'in-flight'}
end
-- fresh: this begin started the key new (what abandon undoes by forgetting the key)
local fresh = startedAt and '0' or '1'
startedAt = startedAt or ARGV[4]
redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'token', ARGV[2],
  'leaseUntil', string.format('%d', now + tonumber(ARGV[3])), 'startedAt', startedAt, 'fresh', fresh)
local keep = math.max(tonumber(ARGV[3]), tonumber(ARGV[5]))
if redis.call('PTTL', KEYS[1]) < keep then redis.call('PEXPIRE', KEYS[1], keep) end
return {'started', startedAt, fresh}`);
// KEYS[1] = key, ARGV[1] = token, ARGV[2] = answer JSON, ARGV[3] = ttl ms
const COMPLETE = new RedisScript(`${NOW}
local fields = redis.call('HMGET', KEYS[1], 'token', 'leaseUntil')
if fields[1] ~= ARGV[1] then return 0 end
if fields[2] and tonumber(fields[2]) <= now then return 0 end
redis.call('HDEL', KEYS[1], 'token', 'leaseUntil', 'fresh')
redis.call('HSET', KEYS[1], 'answer', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`);
// KEYS[1] = key, ARGV[1] = token, ARGV[2] = '1' to keep startedAt and the fingerprint (until
// the key's TTL): the key is then free for retries of the same request only, else for any.
const RELEASE = new RedisScript(`
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
if ARGV[2] ~= '1' or not redis.call('HGET', KEYS[1], 'startedAt') then
  return redis.call('DEL', KEYS[1])
end
return redis.call('HDEL', KEYS[1], 'token', 'leaseUntil', 'fresh')`);
// KEYS[1] = key, ARGV[1] = token. Undoes the begin that took the key with this token: forgets
// a key it started new, else frees it keeping the earlier start time and fingerprint.
const ABANDON = new RedisScript(`
local fields = redis.call('HMGET', KEYS[1], 'token', 'fresh', 'answer')
if fields[1] ~= ARGV[1] or fields[3] then return 0 end
if fields[2] == '1' then return redis.call('DEL', KEYS[1]) end
return redis.call('HDEL', KEYS[1], 'token', 'leaseUntil', 'fresh')`);

/**
 * Idempotency keys shared by every instance: one hash per key (`<prefix>idempotency:<key>`)
 * whose TTL is how long its start time is kept while in flight or released (`keepMs`), and the
 * retention once answered; a request's lease is a field of it, on Redis's clock. Scripts make each
 * step atomic, so two instances receiving the same retry cannot both process it.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly keyPrefix: string;

  constructor(
    private readonly redis: Redis,
    options: { keyPrefix?: string } = {},
  ) {
    this.keyPrefix = `${options.keyPrefix ?? ''}idempotency:`;
  }

  async begin(
    key: string,
    fingerprint: string,
    leaseMs: number,
    start: IdempotencyStart,
  ): Promise<IdempotencyBegin> {
    const token = start.token ?? randomUUID();
    const [state, answer, fresh] = (await BEGIN.run(
      this.redis,
      [this.keyPrefix + key],
      [fingerprint, token, Math.ceil(leaseMs), Math.trunc(start.at), Math.ceil(start.keepMs)],
    )) as [IdempotencyBegin['state'], string | undefined, string | undefined];
    switch (state) {
      case 'started':
        return { state, token, startedAt: Number(answer), resumed: fresh === '0' };
      case 'completed':
        return { state, answer: JSON.parse(answer!) as StoredAnswer };
      default:
        return { state };
    }
  }

  async complete(key: string, token: string, answer: StoredAnswer, ttlMs: number): Promise<void> {
    await COMPLETE.run(this.redis, [this.keyPrefix + key], [token, JSON.stringify(answer), ttlMs]);
  }

  async release(key: string, token: string, options: { keepStart?: boolean } = {}): Promise<void> {
    await RELEASE.run(this.redis, [this.keyPrefix + key], [token, options.keepStart ? '1' : '0']);
  }

  async abandon(key: string, token: string): Promise<void> {
    await ABANDON.run(this.redis, [this.keyPrefix + key], [token]);
  }
}
