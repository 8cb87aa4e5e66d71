import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import {
  type IdempotencyBegin,
  type IdempotencyStore,
  type StoredAnswer,
} from './idempotency-store.port';

// One hash per key: fingerprint, token while in flight, answer once completed.
// KEYS[1] = key, ARGV[1] = fingerprint, ARGV[2] = token, ARGV[3] = lease ms
const BEGIN = `
local fingerprint = redis.call('HGET', KEYS[1], 'fingerprint')
if not fingerprint then
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'started'}
end
if fingerprint ~= ARGV[1] then return {'mismatch'} end
local answer = redis.call('HGET', KEYS[1], 'answer')
if answer then return {'completed', answer} end
return {'in-flight'}`;
// KEYS[1] = key, ARGV[1] = token, ARGV[2] = answer JSON, ARGV[3] = ttl ms
const COMPLETE = `
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'token')
redis.call('HSET', KEYS[1], 'answer', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;
// KEYS[1] = key, ARGV[1] = token
const RELEASE = `
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Idempotency keys shared by every instance: one hash per key (`<prefix>idempotency:<key>`)
 * whose TTL is the lease while in flight and the retention once answered. Scripts make each
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

  async begin(key: string, fingerprint: string, leaseMs: number): Promise<IdempotencyBegin> {
    const token = randomUUID();
    const [state, answer] = (await this.redis.eval(
      BEGIN,
      1,
      this.keyPrefix + key,
      fingerprint,
      token,
      String(leaseMs),
    )) as [IdempotencyBegin['state'], string | undefined];
    switch (state) {
      case 'started':
        return { state, token };
      case 'completed':
        return { state, answer: JSON.parse(answer!) as StoredAnswer };
      default:
        return { state };
    }
  }

  async complete(key: string, token: string, answer: StoredAnswer, ttlMs: number): Promise<void> {
    await this.redis.eval(
      COMPLETE,
      1,
      this.keyPrefix + key,
      token,
      JSON.stringify(answer),
      String(ttlMs),
    );
  }

  async release(key: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.keyPrefix + key, token);
  }
}
