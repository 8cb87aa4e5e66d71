import { serviceSettings, setting } from '@causeway/cqrs-core';
import { z } from 'zod';

/** Every setting of order-processor, validated once at start-up. */
export const orderProcessorConfiguration = z.object({
  ...serviceSettings,
  PORT: setting.port(3002),
  KAFKA_BROKERS: setting.kafkaBrokers(),
  MONGODB_URI: setting.mongoUri(),
});
export type OrderProcessorConfig = z.output<typeof orderProcessorConfiguration>;
