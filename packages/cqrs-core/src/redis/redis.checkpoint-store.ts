import type Redis from 'ioredis';
import { type CheckpointStore } from '../outbox/checkpoint-store.port';

// Set-if-greater, atomically.
const SAVE = `
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end
return 0`;

/** Checkpoints in one Redis hash; `save` never moves a checkpoint backwards. */
export class RedisCheckpointStore implements CheckpointStore {
  constructor(
    private readonly redis: Redis,
    private readonly key = 'checkpoints',
  ) {}

  async load(name: string): Promise<number> {
    return Number((await this.redis.hget(this.key, name)) ?? 0);
  }

  async save(name: string, position: number): Promise<void> {
    await this.redis.eval(SAVE, 1, this.key, name, String(position));
  }

  async reset(name: string): Promise<void> {
    await this.redis.hdel(this.key, name);
  }
}
