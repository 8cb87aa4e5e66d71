import { hostname } from 'node:os';
import { type DynamicModule, Module } from '@nestjs/common';
import { CausewayServiceModule } from '@causeway/cqrs-core/nest';
import { kafkaConnection } from '@causeway/cqrs-core/kafka';
import { mongoConnection } from '@causeway/cqrs-core/mongodb';
import { Registry } from 'prom-client';
import { type OrderProcessorConfig } from './config/order-processor.config';

@Module({})
export class AppModule {
  static forRoot(config: OrderProcessorConfig): DynamicModule {
    const registry = new Registry();
    return {
      module: AppModule,
      imports: [
        CausewayServiceModule.forRoot(
          {
            service: 'order-processor',
            instanceId: config.INSTANCE_ID ?? `${hostname()}-${process.pid}`,
            logLevel: config.LOG_LEVEL,
            connections: [
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
      ],
    };
  }
}
