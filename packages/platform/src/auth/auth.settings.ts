import { z } from 'zod';

/** Settings of the apps that authenticate callers. JWT_SECRET is never logged. */
export const authSettings = {
  JWT_SECRET: z
    .string({ message: 'is required (HS256 secret shared by command-api and sse-gateway)' })
    .min(32, 'must be at least 32 characters'),
  JWT_ISSUER: z.string().min(1).default('causeway'),
};
