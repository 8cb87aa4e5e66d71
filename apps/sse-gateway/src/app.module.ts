import { hostname } from 'node:os';
import { type DynamicModule, Module } from '@nestjs/common';
import { CausewayServiceModule } from '@causeway/cqrs-core/nest';
import { redisConnection } from '@causeway/cqrs-core/redis';
import { mongoConnection } from '@causeway/cqrs-core/mongodb';
import {
  MongoGroupMembers,
  MongoTrainerPositions,
  RedisMessagingModule,
  RedisNotificationLog,
  TokenService,
} from '@causeway/platform';
import { Registry } from 'prom-client';
import { type SseGatewayConfig } from './config/sse-gateway.config';
import { GatewayModule } from './gateway/gateway.module';
import { RedisPresenceRegistry } from './presence/redis.presence-registry';

@Module({})
export class AppModule {
  static forRoot(config: SseGatewayConfig): DynamicModule {
    const registry = new Registry();
    const redis = redisConnection({
      url: config.REDIS_URL,
      connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT_MS,
      registry,
    });
    const mongo = mongoConnection({
      uri: config.MONGODB_URI,
      maxPoolSize: config.MONGODB_POOL_SIZE,
      serverSelectionTimeoutMs: config.MONGODB_TIMEOUT_MS,
      registry,
    });
    const instanceId = config.INSTANCE_ID ?? `${hostname()}-${process.pid}`;
    // The same prefix as the streams of RedisMessagingModule: one TOPIC_PREFIX isolates a deployment.
    const keyPrefix = config.TOPIC_PREFIX ? `${config.TOPIC_PREFIX}:` : '';
    return {
      module: AppModule,
      imports: [
        CausewayServiceModule.forRoot(
          {
            service: 'sse-gateway',
            instanceId,
            logLevel: config.LOG_LEVEL,
            connections: [redis, mongo],
          },
          registry,
        ),
        RedisMessagingModule.forRoot({
          service: 'sse-gateway',
          instanceId,
          config,
          redis,
          registry,
        }),
        GatewayModule.forRoot({
          serverId: instanceId,
          tokens: new TokenService({ secret: config.JWT_SECRET, issuer: config.JWT_ISSUER }),
          notifications: new RedisNotificationLog({ client: redis.client, keyPrefix }),
          positions: new MongoTrainerPositions(mongo.client),
          groups: new MongoGroupMembers(mongo.client),
          presence: new RedisPresenceRegistry(redis.client, {
            keyPrefix,
            ttlMs: config.PRESENCE_TTL_MS,
          }),
          adminToken: config.ADMIN_TOKEN,
          settings: {
            heartbeatMs: config.HEARTBEAT_MS,
            connectionTimeoutMs: config.CONNECTION_TIMEOUT_MS,
            maxConnections: config.MAX_CONNECTIONS,
            maxConnectionsPerUser: config.MAX_CONNECTIONS_PER_USER,
            bufferMaxBytes: config.BUFFER_MAX_BYTES,
            historySize: config.HISTORY_SIZE,
            historyTtlMs: config.HISTORY_TTL_MS,
            retryMs: config.SSE_RETRY_MS,
            retryAfterSeconds: config.RETRY_AFTER_SECONDS,
          },
        }),
      ],
    };
  }
}
