import { RedisScript } from './redis.script';
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { type Lease } from '../leases/lease.port';
import { checkLeaseTtlMs } from '../leases/lease.rules';
import { checkRedisClient } from './redis.client-check';

// KEYS[1] = lease key; ARGV[1] = holder token, ARGV[2] = ttl ms. Renews only our own lease.
const RENEW = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`);

// KEYS[1] = lease key; ARGV[1] = holder token. Deletes only our own lease.
const RELEASE = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

export interface RedisLeaseOptions {
  client: Redis;
  /** The lease's key, e.g. `<prefix>trainer-service:forwarder:lease`: one key per lease. */
  key: string;
  /** How long the lease holds unrenewed: a positive safe integer (ms), checked here. */
  ttlMs: number;
  /** Who holds it (logged and stored as the value); a random suffix keeps restarts apart. */
  holder: string;
}

/**
 * A lease in Redis: `SET key token NX PX ttl` takes it, a compare-and-PEXPIRE script renews it
 * and a compare-and-DEL script releases it, so a holder never renews or frees another's lease.
 * Passes `describeLeaseConformance`. The key expires with the lease: nothing is left behind.
 */
export class RedisLease implements Lease {
  readonly ttlMs: number;
  private readonly token: string;

  constructor(private readonly options: RedisLeaseOptions) {
    checkRedisClient(options?.client, 'RedisLease', 'options.client');
    checkLeaseTtlMs(options.ttlMs);
    this.ttlMs = options.ttlMs;
    this.token = `${options.holder}:${randomUUID()}`;
  }

  async acquire(): Promise<boolean> {
    const { client, key } = this.options;
    const renewed = (await RENEW.run(client, [key], [this.token, this.ttlMs])) as number;
    if (renewed === 1) return true;
    return (await client.set(key, this.token, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  async release(): Promise<void> {
    await RELEASE.run(this.options.client, [this.options.key], [this.token]);
  }
}
