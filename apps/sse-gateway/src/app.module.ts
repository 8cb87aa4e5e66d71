import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { CausewayServiceModule } from '@causeway/cqrs-core/nest';
import {
  adminRefusals,
  instanceIdOf,
  keyPrefixOf,
  mongoFromConfig,
  NotificationDeliveryError,
  readModelsFromConfig,
  redisFromConfig,
  RedisMessagingModule,
  RedisNotificationLog,
  RedisProgressStatuses,
  RedisTokenRevocations,
  redisTime,
  ServerClock,
  serverClockStartup,
  TokenService,
} from '@causeway/platform';
import { CONNECTION_CLOSED_EVENT, CONNECTION_ESTABLISHED_EVENT } from '@causeway/contracts';
import { Registry } from 'prom-client';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { type SseGatewayConfig } from './config/sse-gateway.config';
import { RedisGatewayControl } from './control/redis.gateway-control';
import { GatewayModule } from './gateway/gateway.module';
import { RedisPresenceRegistry } from './presence/redis.presence-registry';

@Module({})
export class AppModule {
  static forRoot(config: SseGatewayConfig): DynamicModule {
    const registry = new Registry();
    const redis = redisFromConfig(config, registry);
    // MongoDB only for read models kept there: with READ_MODEL_STORE=redis no connection is
    // opened and /health/ready does not depend on it (MONGODB_URI is ignored if set).
    const mongo =
      config.READ_MODEL_STORE === 'mongodb' && config.MONGODB_URI
        ? mongoFromConfig({ ...config, MONGODB_URI: config.MONGODB_URI }, registry)
        : undefined;
    const instanceId = instanceIdOf(config);
    // The same prefix as the streams of RedisMessagingModule: one TOPIC_PREFIX isolates a deployment.
    const keyPrefix = keyPrefixOf(config);
    // Written by projection-worker: the same READ_MODEL_STORE and TOPIC_PREFIX find them here.
    const readModels = readModelsFromConfig(config, {
      redis: redis.client,
      mongo: mongo?.client,
      keyPrefix,
    });
    const logger = new Logger('SseGateway');
    // The time `session` frames tell clients: Redis', which notification ids and commands carry.
    const clock = new ServerClock({
      read: redisTime(redis.client),
      onError: (message) => new Logger('ServerClock').warn(message),
      onDebug: (message) => new Logger('ServerClock').debug(message),
    });
    // Shared with command-api through Redis: a user revoked here is refused there too.
    const revocations = new RedisTokenRevocations(redis.client, {
      keyPrefix,
      keepMs: TokenService.revocationHorizonMs(config.JWT_MAX_LIFETIME_S),
      onError: (message) => logger.warn(`token revocations: ${message}`),
      onInfo: (message) => logger.log(`token revocations: ${message}`),
    });
    return {
      module: AppModule,
      // The start waits (at most 5 s) for the clock's first readings.
      providers: [serverClockStartup(clock)],
      imports: [
        CausewayServiceModule.forRoot(
          {
            service: 'sse-gateway',
            instanceId,
            logLevel: config.LOG_LEVEL,
            connections: mongo ? [redis, mongo] : [redis],
            // Not ready until Redis' time is read (streams are refused until then, too).
            probes: [clock.probe()],
          },
          registry,
        ),
        RedisMessagingModule.forRoot({
          service: 'sse-gateway',
          instanceId,
          config,
          redis,
          registry,
          trustedProxies: config.TRUST_PROXY,
          maxLengthByEventType: {
            [CONNECTION_ESTABLISHED_EVENT]: config.CONNECTION_EVENTS_MAX_LENGTH,
            [CONNECTION_CLOSED_EVENT]: config.CONNECTION_EVENTS_MAX_LENGTH,
          },
        }),
        GatewayModule.forRoot({
          serverId: instanceId,
          serverTime: () => clock.now(),
          serverTimeReady: () => clock.synchronised,
          tokens: new TokenService({
            secret: config.JWT_SECRET,
            previousSecrets: config.JWT_PREVIOUS_SECRETS,
            issuer: config.JWT_ISSUER,
            maxLifetimeSeconds: config.JWT_MAX_LIFETIME_S,
            revocations,
          }),
          revocations,
          notifications: new RedisNotificationLog({
            client: redis.client,
            keyPrefix,
            // A read Redis refuses (an ACL, the key of another type, a Redis still loading) is
            // named: the hub's `not read for over … ms` cannot say why.
            onFollowError: followErrorWarning((message) => logger.warn(message)),
          }),
          positions: readModels.positions,
          groups: readModels.groups,
          // Written by order-processor under the same TOPIC_PREFIX (ADR 015).
          progress: new RedisProgressStatuses({
            client: redis.client,
            keyPrefix,
            ttlMs: config.PROGRESS_HISTORY_TTL_MS,
          }),
          presence: new RedisPresenceRegistry(redis.client, {
            keyPrefix,
            ttlMs: config.PRESENCE_TTL_MS,
          }),
          adminToken: config.ADMIN_TOKEN,
          // The same counts as /admin/dead-letters' (RedisMessagingModule): ADMIN_REFUSALS in all.
          adminRefused: adminRefusals({
            redis: redis.client,
            keyPrefix,
            ...(config.TRUST_PROXY && { proxies: config.TRUST_PROXY }),
            warn: (message) => new Logger('AdminToken').warn(message),
            info: (message) => new Logger('AdminToken').log(message),
          }),
          control: new RedisGatewayControl(redis.client, {
            keyPrefix,
            onMalformed: (text) =>
              logger.warn(
                `dropped a malformed order on the control channel: ${text.slice(0, 200)}`,
              ),
          }),
          rateLimiter: new RateLimiterRedis({
            storeClient: redis.client,
            // Counters of their own (not command-api's: a page's reads must not use up its
            // commands), shared by every gateway instance. The limit is part of the key, so
            // instances configured differently never read each other's counters.
            keyPrefix: `${keyPrefix}sse-gateway:rate-limit:${config.RATE_LIMIT_POINTS}-per-${config.RATE_LIMIT_WINDOW_S}s`,
            points: config.RATE_LIMIT_POINTS,
            duration: config.RATE_LIMIT_WINDOW_S,
          }),
          trustedProxies: config.TRUST_PROXY,
          settings: {
            heartbeatMs: config.HEARTBEAT_MS,
            connectionTimeoutMs: config.CONNECTION_TIMEOUT_MS,
            maxConnections: config.MAX_CONNECTIONS,
            maxConnectionsPerUser: config.MAX_CONNECTIONS_PER_USER,
            bufferMaxBytes: config.BUFFER_MAX_BYTES,
            stallTimeoutMs: config.STALL_TIMEOUT_MS,
            historySize: config.HISTORY_SIZE,
            historyScanLimit: config.HISTORY_SCAN_LIMIT,
            historyTtlMs: config.HISTORY_TTL_MS,
            positionsMaxAgeMs: config.POSITIONS_MAX_AGE_MS,
            retryMs: config.SSE_RETRY_MS,
            retryAfterSeconds: config.RETRY_AFTER_SECONDS,
          },
        }),
      ],
    };
  }
}

/** How often the same error of the notification log's follower is logged again, at most. */
export const FOLLOW_ERROR_REPEAT_MS = 60_000;

/**
 * Warns of the notification log follower's failed reads, which it retries with backoff (up to
 * 5 s apart) and would otherwise keep to itself, and of the batches it read but could not send
 * to the streams (a NotificationDeliveryError: the hub failed on them, passed over): the first,
 * each different one, and the same one again at most once a minute while it lasts. A failed
 * delivery is a fault of this instance, not of Redis: its line says so (it read `read failed`).
 */
export function followErrorWarning(warn: (message: string) => void): (error: Error) => void {
  let last: { key: string; at: number } | undefined;
  return (error) => {
    const delivery = error instanceof NotificationDeliveryError;
    // A delivery's message names its batch: the same fault again is the same cause.
    const key = delivery ? `delivery ${error.causeMessage}` : `read ${error.message}`;
    const at = Date.now();
    if (last?.key === key && at - last.at < FOLLOW_ERROR_REPEAT_MS) return;
    last = { key, at };
    warn(
      delivery
        ? `notification delivery failed (read from the log, not sent to the streams; passed over): ${error.message}`
        : `notification log read failed (retrying): ${error.message}`,
    );
  };
}
