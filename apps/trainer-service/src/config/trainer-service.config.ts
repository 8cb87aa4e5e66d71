import { connectionSettings, serviceSettings, setting } from '@causeway/cqrs-core';
import { messagingSettings } from '@causeway/platform';
import { z } from 'zod';

/** Every setting of trainer-service, validated once at start-up. */
export const trainerServiceConfiguration = z.object({
  ...serviceSettings,
  ...messagingSettings,
  PORT: setting.port(3001),
  REDIS_URL: setting.redisUrl(),
  ...connectionSettings.redis,
  MONGODB_URI: setting.mongoUri(),
  ...connectionSettings.mongodb,
});
export type TrainerServiceConfig = z.output<typeof trainerServiceConfiguration>;
