import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { type DeduplicationStore } from '../middleware/deduplication-store.port';

// KEYS[1] = key, ARGV[1] = token, ARGV[2] = lease ms → 'claimed' | 'done' | 'busy'
const CLAIM = `
local value = redis.call('GET', KEYS[1])
if value == 'done' then return 'done' end
if value then return 'busy' end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'claimed'`;
// KEYS[1] = key, ARGV[1] = token, ARGV[2] = ttl ms
const COMPLETE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2]) return 1 end
return 0`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Deduplication shared by every instance through Redis: one key per (group, messageId), a
 * claim token with a lease while handling, `done` with a TTL afterwards. Scripts keep each
 * step atomic.
 */
export class RedisDeduplicationStore implements DeduplicationStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix = 'dedup:',
  ) {}

  async claim(
    key: string,
    leaseMs: number,
  ): Promise<{ state: 'claimed'; token: string } | { state: 'done' | 'busy' }> {
    const token = randomUUID();
    const state = (await this.redis.eval(
      CLAIM,
      1,
      this.keyPrefix + key,
      token,
      String(leaseMs),
    )) as 'claimed' | 'done' | 'busy';
    return state === 'claimed' ? { state, token } : { state };
  }

  async complete(key: string, token: string, ttlMs: number): Promise<void> {
    await this.redis.eval(COMPLETE, 1, this.keyPrefix + key, token, String(ttlMs));
  }

  async release(key: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.keyPrefix + key, token);
  }
}
