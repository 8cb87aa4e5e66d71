import { setting } from '@causeway/cqrs-core';
import { z } from 'zod';

/** Settings of the apps that authenticate callers. JWT_SECRET is never logged. */
export const authSettings = {
  JWT_SECRET: z
    .string({ message: 'is required (HS256 secret shared by command-api and sse-gateway)' })
    .min(32, 'must be at least 32 characters')
    // A rotation moves it into JWT_PREVIOUS_SECRETS, a comma-separated list of trimmed secrets.
    .refine((secret) => !secret.includes(','), 'must not contain a comma')
    .refine((secret) => secret.trim() === secret, 'must not start or end with whitespace'),
  /**
   * Comma-separated secrets that still verify tokens but sign none (a rotation: the secret
   * before JWT_SECRET). Never logged.
   */
  JWT_PREVIOUS_SECRETS: z
    .string()
    .optional()
    .transform((value) =>
      (value ?? '')
        .split(',')
        .map((secret) => secret.trim())
        .filter((secret) => secret.length > 0),
    )
    .refine((secrets) => secrets.every((secret) => secret.length >= 32), {
      message: 'each comma-separated secret must be at least 32 characters',
    }),
  JWT_ISSUER: z.string().min(1).default('causeway'),
  /**
   * The longest a token may live, `exp` - `iat`, in seconds (default 1 day): longer ones, and
   * ones without `iat`, are refused; tokens issued here are cut to it. A revocation is kept this
   * long (plus a few minutes) and then forgotten, as it refuses nothing more; instances set
   * differently keep revocations as long as the longest asks (RedisTokenRevocations).
   */
  JWT_MAX_LIFETIME_S: setting.positiveInt(86_400),
};
