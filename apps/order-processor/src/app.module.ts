import { hostname } from 'node:os';
import { type DynamicModule, Module } from '@nestjs/common';
import { CausewayServiceModule } from '@causeway/cqrs-core/nest';
import { kafkaConnection } from '@causeway/cqrs-core/kafka';
import { mongoConnection } from '@causeway/cqrs-core/mongodb';
import { redisConnection } from '@causeway/cqrs-core/redis';
import { RedisMessagingModule } from '@causeway/platform';
import { Registry } from 'prom-client';
import { type OrderProcessorConfig } from './config/order-processor.config';

@Module({})
export class AppModule {
  static forRoot(config: OrderProcessorConfig): DynamicModule {
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
            service: 'order-processor',
            instanceId,
            logLevel: config.LOG_LEVEL,
            connections: [
              redis,
              kafkaConnection({
                brokers: config.KAFKA_BROKERS,
                requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
                clientId: 'order-processor',
                registry,
              }),
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
          service: 'order-processor',
          instanceId,
          config,
          redis,
          registry,
        }),
      ],
    };
  }
}
