import { hostname } from 'node:os';
import { type DynamicModule, Module } from '@nestjs/common';
import { CausewayServiceModule } from '@causeway/cqrs-core/nest';
import { redisConnection } from '@causeway/cqrs-core/redis';
import { kafkaConnection } from '@causeway/cqrs-core/kafka';
import { RedisMessagingModule } from '@causeway/platform';
import { Registry } from 'prom-client';
import { type CommandApiConfig } from './config/command-api.config';

@Module({})
export class AppModule {
  static forRoot(config: CommandApiConfig): DynamicModule {
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
            service: 'command-api',
            instanceId,
            logLevel: config.LOG_LEVEL,
            connections: [
              redis,
              kafkaConnection({
                brokers: config.KAFKA_BROKERS,
                requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
                clientId: 'command-api',
                registry,
              }),
            ],
          },
          registry,
        ),
        RedisMessagingModule.forRoot({
          service: 'command-api',
          instanceId,
          config,
          redis,
          registry,
        }),
      ],
    };
  }
}
