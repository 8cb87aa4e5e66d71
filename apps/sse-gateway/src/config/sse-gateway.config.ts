import { connectionSettings, serviceSettings, setting } from '@causeway/cqrs-core';
import { messagingSettings } from '@causeway/platform';
import { z } from 'zod';

/** Every setting of sse-gateway, validated once at start-up. */
export const sseGatewayConfiguration = z.object({
  ...serviceSettings,
  ...messagingSettings,
  PORT: setting.port(3004),
  REDIS_URL: setting.redisUrl(),
  ...connectionSettings.redis,
  MONGODB_URI: setting.mongoUri(),
  ...connectionSettings.mongodb,
});
export type SseGatewayConfig = z.output<typeof sseGatewayConfiguration>;
