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
    const redis = redisConnection({ url: config.REDIS_URL, registry });
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
                clientId: 'order-processor',
                registry,
              }),
              mongoConnection({ uri: config.MONGODB_URI, registry }),
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
