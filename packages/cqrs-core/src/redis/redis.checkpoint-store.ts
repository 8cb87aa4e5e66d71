import { shownValue } from '../config/shown-value';
import { RedisScript } from './redis.script';
import type Redis from 'ioredis';
import { type CheckpointStore } from '../outbox/checkpoint-store.port';
import {
  checkCheckpointName,
  checkCheckpointPosition,
  checkStoredPosition,
} from '../outbox/checkpoint-store.rules';
import { checkRedisClient } from './redis.client-check';

// Set-if-greater, atomically.
const SAVE = new RedisScript(`
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end
return 0`);

/** Where the checkpoints live: the hash `key`, or `<keyPrefix>checkpoints`. */
export interface RedisCheckpointStoreOptions {
  /** The hash's full key (wins over `keyPrefix`). */
  key?: string;
  /** Prefix of the hash's key, as the other Redis stores take it: `<keyPrefix>checkpoints`. */
  keyPrefix?: string;
}

/** Checkpoints in one Redis hash; `save` never moves a checkpoint backwards. */
export class RedisCheckpointStore implements CheckpointStore {
  private readonly key: string;

  /**
   * @param key the hash's key (default `checkpoints`), or `{ key }` / `{ keyPrefix }` like the
   *   other Redis stores
   * @throws TypeError when the key is neither a non-empty string nor such an object
   */
  constructor(
    private readonly redis: Redis,
    key: string | RedisCheckpointStoreOptions = 'checkpoints',
  ) {
    checkRedisClient(redis, 'RedisCheckpointStore', 'its first argument');
    const resolved =
      typeof key === 'string'
        ? key
        : typeof key === 'object' && key !== null
          ? (key.key ?? `${key.keyPrefix ?? ''}checkpoints`)
          : undefined;
    if (typeof resolved !== 'string' || resolved.length === 0)
      throw new TypeError(
        `RedisCheckpointStore: the key must be a non-empty string or { key } / { keyPrefix }, got ${shownValue(key)}`,
      );
    this.key = resolved;
  }

  /**
   * @throws TypeError (RangeError for digits beyond a safe integer) when the field holds
   *   anything but the digits `save` writes (a hand edit), naming the hash, the field and the value
   */
  async load(name: string): Promise<number> {
    checkCheckpointName(name);
    const stored = await this.redis.hget(this.key, name);
    if (stored === null) return 0;
    // Digits only: Number() would take '' for 0, '0x10' for 16 and 'abc' for NaN.
    return checkStoredPosition(
      /^\d+$/.test(stored) ? Number(stored) : stored,
      `RedisCheckpointStore: the field ${JSON.stringify(name)} of the hash ${JSON.stringify(this.key)}`,
    );
  }

  async save(name: string, position: number): Promise<void> {
    checkCheckpointName(name);
    checkCheckpointPosition(position);
    await SAVE.run(this.redis, [this.key], [name, position]);
  }

  async reset(name: string): Promise<void> {
    checkCheckpointName(name);
    await this.redis.hdel(this.key, name);
  }
}
