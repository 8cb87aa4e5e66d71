import { RedisScript } from './redis.script';
import type Redis from 'ioredis';

// KEYS[1] = hint key; ARGV[1] = slot, ARGV[2] = ttl ms. Keeps the maximum, atomically.
const RAISE = new RedisScript(`
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`);

// KEYS[1] = hint key, KEYS[2] = turn key; ARGV[1] = holder, ARGV[2] = turn ttl ms.
// The turn if free, with the hint's slot; -1 while someone else has it.
const TAKE = new RedisScript(`
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return tonumber(redis.call('GET', KEYS[1]) or '0')
end
return -1`);

// KEYS[1] = hint key, KEYS[2] = turn key; ARGV[1] = slot, ARGV[2] = hint ttl ms, ARGV[3] = holder.
// Raises the hint (as RAISE) and ends the holder's turn, if it still has it.
const PASS = new RedisScript(`
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1`);

export interface RedisSlotHintOptions {
  /** Prepended to the keys `<prefix>commit-log:{<log>}` (and `…:turn`). Default ''. */
  keyPrefix?: string;
  /** The hint expires this long after its last raise (an expired hint reads 0: harmless). Default 1 day. */
  ttlMs?: number;
}

/**
 * The MongoDB event store's slot hint (`MongoEventStoreOptions.slotHint`, docs/adr/003) in Redis:
 * one key per log holding the highest slot raised, raised by a set-if-greater script. Every
 * writer process of the store reads it before inserting a commit, so it does not insert at slots
 * the others took since (each such insert is refused, and costs FerretDB a write-lock wait).
 * It also gives the writers turns (SlotHint.take/pass): a second key names the writer inserting
 * now, set only if free, with a TTL; taking a turn reads the hint and passing it raises the hint,
 * one script each, so the next writer starts at the right slot. The two keys of a log share a
 * hash tag (Redis Cluster).
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
    return Number((await this.redis.get(this.key(log))) ?? 0) || 0;
  }

  async raise(log: string, slot: number): Promise<void> {
    await RAISE.run(this.redis, [this.key(log)], [slot, this.ttlMs]);
  }

  async take(log: string, holder: string, ttlMs: number): Promise<number | undefined> {
    const key = this.key(log);
    const slot = Number(await TAKE.run(this.redis, [key, `${key}:turn`], [holder, ttlMs]));
    return slot < 0 ? undefined : slot;
  }

  async pass(log: string, holder: string, slot: number): Promise<void> {
    const key = this.key(log);
    await PASS.run(this.redis, [key, `${key}:turn`], [slot, this.ttlMs, holder]);
  }

  private key(log: string): string {
    return `${this.keyPrefix}{${log}}`;
  }
}
