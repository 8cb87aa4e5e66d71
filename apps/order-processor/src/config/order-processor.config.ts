import { connectionSettings, serviceSettings, setting } from '@causeway/cqrs-core';
import { messagingSettings } from '@causeway/platform';
import { z } from 'zod';

/** Every setting of order-processor, validated once at start-up. */
export const orderProcessorConfiguration = z.object({
  ...serviceSettings,
  ...messagingSettings,
  PORT: setting.port(3002),
  REDIS_URL: setting.redisUrl(),
  ...connectionSettings.redis,
  KAFKA_BROKERS: setting.kafkaBrokers(),
  ...connectionSettings.kafka,
  MONGODB_URI: setting.mongoUri(),
  ...connectionSettings.mongodb,
});
export type OrderProcessorConfig = z.output<typeof orderProcessorConfiguration>;
