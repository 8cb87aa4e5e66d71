import { RedisScript } from './redis.script';
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import {
  type DeduplicationClaim,
  type DeduplicationStore,
} from '../middleware/deduplication-store.port';
import { checkClaimLeaseMs, checkCompleteTtlMs } from '../middleware/deduplication-store.rules';
import { checkRedisClient } from './redis.client-check';

// A key holds the claim's token (a uuid) while handling, then 'done' or 'done:<result>'.
// KEYS[1] = key, ARGV[1] = token, ARGV[2] = lease ms → 'claimed' | 'busy' | the done value
const CLAIM = new RedisScript(`
local value = redis.call('GET', KEYS[1])
if value then
  if string.sub(value, 1, 4) == 'done' then return value end
  return 'busy'
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'claimed'`);
// KEYS[1] = key, ARGV[1] = token, ARGV[2] = ttl ms, ARGV[3] = the done value → 1 stored, 0 not.
// A key that is gone (the claim lapsed while its holder still handled) is stored too: the
// handling did take place, and a duplicate must not run it again.
const COMPLETE = new RedisScript(`
local value = redis.call('GET', KEYS[1])
if value == false or value == ARGV[1] then redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2]) return 1 end
return 0`);
// KEYS[1] = key, ARGV[1] = token, ARGV[2] = lease ms → 1 renewed, 0 not held
const RENEW = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`);
const RELEASE = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

/**
 * Deduplication shared by every instance through Redis: one key per (group, messageId), a
 * claim token with a lease while handling, `done` (with the handling's result) and a TTL
 * afterwards. Scripts keep each step atomic.
 */
export interface RedisDeduplicationStoreOptions {
  /** The deployment's key prefix, as RedisDeadLetterQueue's: keys are `<keyPrefix>dedup:<group>:<messageId>`. Default ''. */
  keyPrefix?: string;
}

export class RedisDeduplicationStore implements DeduplicationStore {
  private readonly keyPrefix: string;

  /**
   * `options.keyPrefix` as the other Redis stores take it; a string (the earlier form) is the
   * whole prefix of the keys, `dedup:` included. Default: keys `dedup:<group>:<messageId>`.
   */
  constructor(
    private readonly redis: Redis,
    options: RedisDeduplicationStoreOptions | string = {},
  ) {
    checkRedisClient(redis, 'RedisDeduplicationStore', 'its first argument');
    this.keyPrefix = typeof options === 'string' ? options : `${options.keyPrefix ?? ''}dedup:`;
  }

  async claim(key: string, leaseMs: number): Promise<DeduplicationClaim> {
    checkClaimLeaseMs(leaseMs);
    const token = randomUUID();
    const answer = (await CLAIM.run(
      this.redis,
      [this.keyPrefix + key],
      [token, leaseMs],
    )) as string;
    if (answer === 'claimed') return { state: 'claimed', token };
    if (answer === 'busy') return { state: 'busy' };
    return answer.startsWith('done:')
      ? { state: 'done', result: answer.slice(5) }
      : { state: 'done' };
  }

  async complete(key: string, token: string, ttlMs: number, result?: string): Promise<boolean> {
    checkCompleteTtlMs(ttlMs);
    const done = result === undefined ? 'done' : `done:${result}`;
    return (
      Number(await COMPLETE.run(this.redis, [this.keyPrefix + key], [token, ttlMs, done])) === 1
    );
  }

  async renew(key: string, token: string, leaseMs: number): Promise<boolean> {
    checkClaimLeaseMs(leaseMs);
    return Number(await RENEW.run(this.redis, [this.keyPrefix + key], [token, leaseMs])) === 1;
  }

  async release(key: string, token: string): Promise<void> {
    await RELEASE.run(this.redis, [this.keyPrefix + key], [token]);
  }
}
