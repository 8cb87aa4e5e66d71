import { hostname } from 'node:os';
import { type DynamicModule, Module } from '@nestjs/common';
import { CausewayServiceModule } from '@causeway/cqrs-core/nest';
import { redisConnection } from '@causeway/cqrs-core/redis';
import { mongoConnection } from '@causeway/cqrs-core/mongodb';
import { RedisMessagingModule } from '@causeway/platform';
import { Registry } from 'prom-client';
import { type SseGatewayConfig } from './config/sse-gateway.config';

@Module({})
export class AppModule {
  static forRoot(config: SseGatewayConfig): DynamicModule {
    const registry = new Registry();
    const redis = redisConnection({
      url: config.REDIS_URL,
      connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT_MS,
      registry,
    });
    const instanceId = config.INSTANCE_ID ?? `${hostname()}-${process.pid}`;
    return {
      module: AppModule,
      imports: [
        CausewayServiceModule.forRoot(
          {
            service: 'sse-gateway',
            instanceId,
            logLevel: config.LOG_LEVEL,
            connections: [
              redis,
              mongoConnection({
                uri: config.MONGODB_URI,
                maxPoolSize: config.MONGODB_POOL_SIZE,
                serverSelectionTimeoutMs: config.MONGODB_TIMEOUT_MS,
                registry,
              }),
            ],
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
      ],
    };
  }
}
