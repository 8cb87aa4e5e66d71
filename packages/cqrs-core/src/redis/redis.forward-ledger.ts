import { RedisScript } from './redis.script';
import type Redis from 'ioredis';
import {
  type ForwardLedger,
  ledgerAdvance,
  ledgerStart,
  type LedgerUnits,
} from '../outbox/forward-ledger.port';
import { checkRedisClient } from './redis.client-check';

// KEYS[1] = ledger; ARGV[1] = ttl ms, ARGV[2…] = units. Records them; the key lives ttl after its last use.
const RECORD = new RedisScript(`
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`);

// KEYS[1] = ledger; ARGV[1] = start unit, ARGV[2] = most units per call. The last unit of the
// run of recorded units from start (start - 1 when start is not recorded); forgets up to it.
const ADVANCE = new RedisScript(`
local start = tonumber(ARGV[1])
local units = redis.call('ZRANGEBYSCORE', KEYS[1], start, '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
local last = start - 1
for i = 1, #units do
  if tonumber(units[i]) ~= last + 1 then break end
  last = last + 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', last)
return last`);

// KEYS[1] = ledger; ARGV = units. 1 for each unit recorded (and not forgotten), else 0.
const RECORDED = new RedisScript(`
local found = {}
for i = 1, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then found[i] = 1 else found[i] = 0 end
end
return found`);

export interface RedisForwardLedgerOptions {
  client: Redis;
  /**
   * The ledger's key, or a function giving it at each call. Name the forwarder and the store's
   * log in it (for the MongoDB store `ledgerUnits().log`, which changes when the database is
   * created again): units of another log must never count.
   */
  key: string | (() => string);
  units: LedgerUnits;
  /** The key expires this long after its last record (then rounds read the store). Default 1 day. */
  ttlMs?: number;
}

/**
 * The ForwardLedger in Redis, shared by every process of a deployment: a sorted set of the
 * units recorded and not yet passed by the checkpoint. `advance` walks the run of recorded units
 * in one script (at most 10 000 per call) and forgets them.
 */
export class RedisForwardLedger implements ForwardLedger {
  private readonly ttlMs: number;

  constructor(private readonly options: RedisForwardLedgerOptions) {
    checkRedisClient(options?.client, 'RedisForwardLedger', 'options.client');
    this.ttlMs = options.ttlMs ?? 86_400_000;
  }

  async record(positions: readonly number[]): Promise<void> {
    const units = [...new Set(positions.map((p) => this.options.units.unitOf(p)))];
    if (units.length === 0) return;
    await RECORD.run(this.options.client, [this.key()], [this.ttlMs, ...units]);
  }

  async advance(from: number): Promise<{ through: number; caughtUp: boolean }> {
    const start = ledgerStart(this.options.units, from);
    const last = Number(await ADVANCE.run(this.options.client, [this.key()], [start, 10_000]));
    return ledgerAdvance(this.options.units, from, start, last);
  }

  /** One script call for the whole read (at most a round's batch of positions). */
  async recorded(positions: readonly number[]): Promise<ReadonlySet<number>> {
    const units = [...new Set(positions.map((p) => this.options.units.unitOf(p)))];
    if (units.length === 0) return new Set();
    const found = (await RECORDED.run(this.options.client, [this.key()], units)) as number[];
    const recorded = new Set(units.filter((_, i) => found[i] === 1));
    return new Set(positions.filter((p) => recorded.has(this.options.units.unitOf(p))));
  }

  private key(): string {
    const { key } = this.options;
    return typeof key === 'string' ? key : key();
  }
}
