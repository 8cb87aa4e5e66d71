import { type RateLimiterAbstract, RateLimiterRedis } from 'rate-limiter-flexible';
import type Redis from 'ioredis';

export interface CallerLimiterOptions {
  /** The app's shared Redis client: the counters live there, shared by its instances. */
  redis: Redis;
  /**
   * Whose counters: `<keyPrefix>rate-limit:<points>-per-<window>s`. Give each app its own (a
   * page's progress reads must not use up its commands). The limit is part of the key, so
   * instances configured differently never read each other's counters.
   */
  keyPrefix: string;
  /** Requests per caller per window (RATE_LIMIT_POINTS). */
  points: number;
  /** The window in seconds (RATE_LIMIT_WINDOW_S). */
  windowSeconds: number;
}

/** The counters of a CallerGate in Redis: `points` requests per caller per `windowSeconds`. */
export function redisCallerLimiter(options: CallerLimiterOptions): RateLimiterAbstract {
  return new RateLimiterRedis({
    storeClient: options.redis,
    keyPrefix: `${options.keyPrefix}rate-limit:${options.points}-per-${options.windowSeconds}s`,
    points: options.points,
    duration: options.windowSeconds,
  });
}
