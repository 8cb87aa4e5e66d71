import { hostname } from 'node:os';
import { type ManagedConnection } from '@causeway/cqrs-core';
import { mongoConnection } from '@causeway/cqrs-core/mongodb';
import { redisConnection } from '@causeway/cqrs-core/redis';
import type Redis from 'ioredis';
import { type Registry } from 'prom-client';

/** This instance's id: INSTANCE_ID, else host and pid (consumer names, presence, serverId). */
export function instanceIdOf(config: { INSTANCE_ID?: string }): string {
  return config.INSTANCE_ID ?? `${hostname()}-${process.pid}`;
}

/** The Redis key prefix of a deployment: `TOPIC_PREFIX:` (streams, stores, leases alike), or none. */
export function keyPrefixOf(config: { TOPIC_PREFIX: string }): string {
  return config.TOPIC_PREFIX ? `${config.TOPIC_PREFIX}:` : '';
}

/** The app's one Redis connection, from its validated settings. */
export function redisFromConfig(
  config: {
    REDIS_URL: string;
    REDIS_CONNECT_TIMEOUT_MS: number;
    REDIS_COMMAND_TIMEOUT_MS: number;
    REDIS_SILENCE_TIMEOUT_MS: number;
  },
  registry: Registry,
): ManagedConnection<Redis> {
  return redisConnection({
    url: config.REDIS_URL,
    source: 'REDIS_URL',
    connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT_MS,
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    silenceTimeoutMs: config.REDIS_SILENCE_TIMEOUT_MS,
    registry,
  });
}

/** The app's one MongoDB connection, from its validated settings. */
export function mongoFromConfig(
  config: {
    MONGODB_URI: string;
    MONGODB_POOL_SIZE: number;
    MONGODB_TIMEOUT_MS: number;
    MONGODB_SILENCE_TIMEOUT_MS: number;
  },
  registry: Registry,
): ReturnType<typeof mongoConnection> {
  return mongoConnection({
    uri: config.MONGODB_URI,
    source: 'MONGODB_URI',
    maxPoolSize: config.MONGODB_POOL_SIZE,
    serverSelectionTimeoutMs: config.MONGODB_TIMEOUT_MS,
    silenceTimeoutMs: config.MONGODB_SILENCE_TIMEOUT_MS,
    registry,
  });
}
