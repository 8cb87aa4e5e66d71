import { type AdminRefused, ProblemException, problemType } from '@causeway/cqrs-core/nest';
import type Redis from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { type TrustedProxies } from '../http/trusted.proxies';
import { CallerGate } from './caller.gate';

/** Wrong or missing admin tokens a client address may send per window, across the deployment. */
export const ADMIN_REFUSALS = { points: 10, windowSeconds: 60 } as const;

export interface AdminRefusalsOptions {
  /**
   * Where the counts are kept: every app of a deployment shares them (its key prefix). None:
   * in this process (the embedded mode).
   */
  redis?: Redis;
  keyPrefix?: string;
  /** Whose `X-Forwarded-For` names the client (TRUST_PROXY). Default: no one's. */
  proxies?: TrustedProxies;
  /** Told when Redis fails and refusals go uncounted (once per outage, then once a minute). */
  warn(message: string): void;
  info?(message: string): void;
}

/**
 * The admin endpoints' guard against guessing ADMIN_TOKEN: each refused request costs its client
 * address a point, ADMIN_REFUSALS.points per window, counted in Redis for all the apps and
 * instances of a deployment; beyond, 429 `rate-limited` with `Retry-After` instead of the 401.
 * A good token is never counted or refused. While Redis is down refusals go uncounted (the
 * 401s stand), said once per outage.
 */
export function adminRefusals(options: AdminRefusalsOptions): AdminRefused {
  const counts = {
    keyPrefix: `${options.keyPrefix ?? ''}admin-refusals:${ADMIN_REFUSALS.points}-per-${ADMIN_REFUSALS.windowSeconds}s`,
    points: ADMIN_REFUSALS.points,
    duration: ADMIN_REFUSALS.windowSeconds,
  };
  const gate = new CallerGate({
    limiter: options.redis
      ? new RateLimiterRedis({ storeClient: options.redis, ...counts })
      : new RateLimiterMemory(counts),
    ...(options.proxies && { proxies: options.proxies }),
    limited: (retryAfterSeconds) =>
      new ProblemException(
        {
          type: problemType('rate-limited'),
          title: 'Too Many Requests',
          status: 429,
          detail: `too many requests without the admin token from this address; retry in ${retryAfterSeconds} s`,
        },
        { headers: { 'Retry-After': String(retryAfterSeconds) } },
      ),
    refused: () => true,
    warn: (message) => options.warn(`admin token refusals: ${message}`),
    info: (message) => (options.info ?? options.warn)(`admin token refusals: ${message}`),
  });
  return (request) => gate.charge(gate.addressKey(request));
}
