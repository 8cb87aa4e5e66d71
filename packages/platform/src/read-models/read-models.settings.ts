import { whateverElseFails } from '@causeway/cqrs-core';
import { z } from 'zod';

/**
 * Settings of the apps that write or read the read models (projection-worker, sse-gateway,
 * trainer-service).
 */
export const readModelSettings = {
  /**
   * Where the read models live (positions, group members); keep equal in projection-worker,
   * sse-gateway and trainer-service (it reads group members and writes memberships through).
   */
  READ_MODEL_STORE: z
    .enum(['redis', 'mongodb'], { message: 'must be redis or mongodb' })
    .default('redis'),
};

export type ReadModelStore = z.output<typeof readModelSettings.READ_MODEL_STORE>;

/**
 * For an app that needs MongoDB only for its read models (sse-gateway): its schema declares
 * MONGODB_URI optional and adds this check (`.check(mongoUriForMongoReadModels)`), so
 * READ_MODEL_STORE=mongodb without MONGODB_URI refuses to start naming MONGODB_URI, and with
 * redis the app needs no MongoDB at all. It runs even when other settings are bad, so that the
 * error names every one.
 */
export const mongoUriForMongoReadModels = z.superRefine<{
  READ_MODEL_STORE?: unknown;
  MONGODB_URI?: unknown;
}>((config, ctx) => {
  if (config.READ_MODEL_STORE === 'mongodb' && !config.MONGODB_URI) {
    ctx.addIssue({
      code: 'custom',
      path: ['MONGODB_URI'],
      message: 'is required when READ_MODEL_STORE=mongodb',
    });
  }
}, whateverElseFails());
