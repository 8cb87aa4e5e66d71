import type Redis from 'ioredis';
import { redisConnection } from './redis.connection';
import { RedisCheckpointStore } from './redis.checkpoint-store';
import { RedisDeadLetterQueue } from './redis.dead-letter-queue';
import { RedisDeduplicationStore } from './redis.deduplication-store';
import { RedisForwardLedger } from './redis.forward-ledger';
import { RedisLease } from './redis.lease';

// The stores that take an ioredis client refuse anything else when built, naming what to pass:
// a connection (not its `.client`) or an options object used to fail only at the first call,
// with "this.redis.hget is not a function".
describe('Redis stores given something other than an ioredis client', () => {
  const connection = redisConnection({ url: 'redis://127.0.0.1:1', name: 'never-opened' });
  afterAll(() => connection.close());

  const build: Record<string, (client: unknown) => unknown> = {
    RedisCheckpointStore: (client) => new RedisCheckpointStore(client as Redis),
    RedisDeadLetterQueue: (client) => new RedisDeadLetterQueue(client as Redis),
    RedisDeduplicationStore: (client) => new RedisDeduplicationStore(client as Redis),
    RedisForwardLedger: (client) =>
      new RedisForwardLedger({
        client: client as Redis,
        key: 'ledger',
        units: {
          unitOf: (p: number) => p,
          lastOf: (u: number) => u,
          highest: async () => Infinity,
        } as never,
      }),
    RedisLease: (client) =>
      new RedisLease({ client: client as Redis, key: 'lease', ttlMs: 1_000, holder: 'h' }),
  };

  it.each(Object.keys(build))('%s refuses a missing client', (name) => {
    expect(() => build[name]!(undefined)).toThrow(
      new RegExp(`^${name}: .*must be an ioredis client.*got undefined`),
    );
  });

  // A review (session 42): a URL passed in place of the client was shown unquoted.
  it.each(Object.keys(build))('%s refuses a URL string, showing it quoted', (name) => {
    expect(() => build[name]!('redis://cache:6379')).toThrow(
      new RegExp(`^${name}: .*must be an ioredis client.*got "redis://cache:6379"$`),
    );
  });

  it.each(Object.keys(build))('%s refuses the connection, saying to pass its .client', (name) => {
    expect(() => build[name]!(connection)).toThrow(/pass its \.client/);
  });

  it.each(Object.keys(build))('%s refuses an options object in place of the client', (name) => {
    expect(() => build[name]!({ client: connection.client })).toThrow(
      new RegExp(`^${name}: .*must be an ioredis client`),
    );
  });

  it.each(Object.keys(build))('%s takes the client', (name) => {
    expect(() => build[name]!(connection.client)).not.toThrow();
  });
});
