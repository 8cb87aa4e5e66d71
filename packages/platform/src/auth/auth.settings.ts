import { setting, whateverElseFails } from '@causeway/cqrs-core';
import { z } from 'zod';

/** Settings of the apps that authenticate callers. JWT_SECRET is never logged. */
export const authSettings = {
  JWT_SECRET: z
    .string({
      message: 'is required (HS256 secret shared by command-api, sse-gateway and order-processor)',
    })
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

/**
 * ADMIN_TOKEN is none of the token secrets (a check of the apps' configurations that hold
 * both). The admin token is handed to every app, trainer-service and projection-worker
 * included, and sent by operators' scripts; as JWT_SECRET or one of JWT_PREVIOUS_SECRETS, it
 * would let whoever holds it sign a token for any user. Runs whatever else is wrong, so that
 * every problem is named at once.
 */
export const adminTokenApartFromJwtSecrets = z.superRefine<{
  ADMIN_TOKEN?: unknown;
  JWT_SECRET?: unknown;
  JWT_PREVIOUS_SECRETS?: unknown;
}>((config, ctx) => {
  const admin = config.ADMIN_TOKEN;
  if (typeof admin !== 'string') return;
  if (config.JWT_SECRET === admin)
    ctx.addIssue({
      code: 'custom',
      path: ['JWT_SECRET'],
      message: 'must not be ADMIN_TOKEN: whoever holds the admin token could sign any token',
    });
  const previous = config.JWT_PREVIOUS_SECRETS;
  if (Array.isArray(previous) && previous.includes(admin))
    ctx.addIssue({
      code: 'custom',
      path: ['JWT_PREVIOUS_SECRETS'],
      message: 'must not hold ADMIN_TOKEN: whoever holds the admin token could sign any token',
    });
}, whateverElseFails());

/**
 * The settings of the apps that can mint development tokens (command-api, embedded): DEV_TOKENS,
 * whether `POST /api/dev/tokens` gives anyone a token for any user (demos only), and NODE_ENV,
 * read for devTokensOutsideProduction alone.
 */
export const devTokenSettings = {
  DEV_TOKENS: setting.boolean(false),
  /** `production` (as the Docker image sets it) refuses DEV_TOKENS=true; nothing else here. */
  NODE_ENV: z.string().optional(),
};

/**
 * DEV_TOKENS=true is refused with NODE_ENV=production (a check of the configurations that hold
 * both): such a deployment would mint a token for anyone who asks, as any user. It only warned
 * at start-up until session 44. A demo run from the production image sets NODE_ENV to anything
 * else.
 */
export const devTokensOutsideProduction = z.superRefine<{
  DEV_TOKENS?: unknown;
  NODE_ENV?: unknown;
}>((config, ctx) => {
  if (config.DEV_TOKENS === true && config.NODE_ENV === 'production')
    ctx.addIssue({
      code: 'custom',
      path: ['DEV_TOKENS'],
      message:
        'must not be true with NODE_ENV=production: POST /api/dev/tokens would give anyone a token for any user (set DEV_TOKENS=false; for a demo, another NODE_ENV)',
    });
}, whateverElseFails());
