import { connectionSettings, serviceSettings, setting } from '@causeway/cqrs-core';
import { messagingSettings } from '@causeway/platform';
import { z } from 'zod';

/** Every setting of command-api, validated once at start-up. */
export const commandApiConfiguration = z.object({
  ...serviceSettings,
  ...messagingSettings,
  PORT: setting.port(3000),
  REDIS_URL: setting.redisUrl(),
  ...connectionSettings.redis,
  KAFKA_BROKERS: setting.kafkaBrokers(),
  ...connectionSettings.kafka,
});
export type CommandApiConfig = z.output<typeof commandApiConfiguration>;
