import { type DynamicModule, Module } from '@nestjs/common';
import { CausewayServiceModule } from '@causeway/cqrs-core/nest';
import { kafkaConnection } from '@causeway/cqrs-core/kafka';
import {
  instanceIdOf,
  mongoFromConfig,
  redisFromConfig,
  RedisMessagingModule,
} from '@causeway/platform';
import { Registry } from 'prom-client';
import { type OrderProcessorConfig } from './config/order-processor.config';

@Module({})
export class AppModule {
  static forRoot(config: OrderProcessorConfig): DynamicModule {
    const registry = new Registry();
    const redis = redisFromConfig(config, registry);
    const instanceId = instanceIdOf(config);
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
              // Kafka carries none of this app's traffic yet: shown in /health, never unready for it.
              Object.assign(
                kafkaConnection({
                  brokers: config.KAFKA_BROKERS,
                  requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
                  clientId: 'order-processor',
                  registry,
                }),
                { critical: false },
              ),
              mongoFromConfig(config, registry),
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
