import type Redis from 'ioredis';

// KEYS[1] = hint key; ARGV[1] = slot, ARGV[2] = ttl ms. Keeps the maximum, atomically.
const RAISE = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

export interface RedisSlotHintOptions {
  /** Prepended to the key `<prefix>commit-log:<log>`. Default ''. */
  keyPrefix?: string;
  /** The hint expires this long after its last raise (an expired hint reads 0: harmless). Default 1 day. */
  ttlMs?: number;
}

/**
 * The MongoDB event store's slot hint (`MongoEventStoreOptions.slotHint`, docs/adr/003) in Redis:
 * one key per log holding the highest slot raised, raised by a set-if-greater script. Every
 * writer process of the store reads it before inserting a commit, so it does not insert at slots
 * the others took since (each such insert is refused, and costs FerretDB a write-lock wait).
 */
export class RedisSlotHint {
  private readonly keyPrefix: string;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    options: RedisSlotHintOptions = {},
  ) {
    this.keyPrefix = `${options.keyPrefix ?? ''}commit-log:`;
    this.ttlMs = options.ttlMs ?? 86_400_000;
  }

  async read(log: string): Promise<number> {
    return Number((await this.redis.get(this.keyPrefix + log)) ?? 0) || 0;
  }

  async raise(log: string, slot: number): Promise<void> {
    await this.redis.eval(RAISE, 1, this.keyPrefix + log, String(slot), String(this.ttlMs));
  }
}
