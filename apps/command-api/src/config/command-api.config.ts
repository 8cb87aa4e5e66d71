import {
  connectionSettings,
  decimal,
  serviceSettings,
  setting,
  wholeNumber,
} from '@causeway/cqrs-core';
import {
  adminTokenApartFromJwtSecrets,
  authSettings,
  corsOriginsSetting,
  devTokenSettings,
  devTokensOutsideProduction,
  messagingSettings,
  trustProxySetting,
} from '@causeway/platform';
import { z } from 'zod';

/** Every setting of command-api, validated once at start-up. */
export const commandApiConfiguration = z
  .object({
    ...serviceSettings,
    ...messagingSettings,
    ...authSettings,
    PORT: setting.port(3000),
    REDIS_URL: setting.redisUrl(),
    ...connectionSettings.redis,
    KAFKA_BROKERS: setting.kafkaBrokers(),
    ...connectionSettings.kafka,
    /**
     * How long `POST /api/v2/progress/orders` waits for Kafka to acknowledge an order before
     * answering 503 `order-unconfirmed` (the order may still be written).
     */
    ORDER_PUBLISH_TIMEOUT_MS: setting.milliseconds(5_000),
    /**
     * S3-7: how long an accepted order's ACCEPTED status is kept (order-processor's steps replace
     * it at once): set it as order-processor's. Also the order topic's retention when this app
     * creates it, which the Kafka transport takes from 8 ms (an eighth is `segment.ms`): a lower
     * value is refused here, naming this setting, not at the start by the transport.
     */
    PROGRESS_HISTORY_TTL_MS: setting.age(86_400_000, 8),
    /**
     * Kafka partitions of the order topic when this app creates it (its first order): set it as
     * order-processor's, which creates it too (its consumer, a replay); whichever comes first
     * decides, and Kafka keeps the count.
     */
    ORDER_TOPIC_PARTITIONS: setting.positiveInt(6),
    /**
     * DEV_TOKENS: POST /api/dev/tokens issues tokens to anyone, development and demos only
     * (refused with NODE_ENV=production).
     */
    ...devTokenSettings,
    /** Largest request body in bytes (413 beyond). */
    MAX_BODY_BYTES: setting.positiveInt(16 * 1024),
    /** How long the answer to an Idempotency-Key is kept, in seconds. */
    IDEMPOTENCY_TTL_S: setting.positiveInt(86_400),
    /** Requests per caller per RATE_LIMIT_WINDOW_S seconds. */
    RATE_LIMIT_POINTS: setting.positiveInt(100),
    RATE_LIMIT_WINDOW_S: setting.positiveInt(1),
    /**
     * Serve the command endpoints through Express like every other path, instead of a listener in
     * front of it: for Express middleware added around command-api that must see them (CORS needs
     * none: CORS_ORIGINS runs ahead of both).
     */
    COMMANDS_THROUGH_EXPRESS: setting.boolean(false),
    /**
     * Reverse proxies whose X-Forwarded-For names the client (for the rate limit of callers
     * without a valid token): addresses, CIDR ranges, `loopback`, `linklocal`, `uniquelocal`,
     * comma-separated. Unset: none, the client is the connection's peer.
     */
    TRUST_PROXY: trustProxySetting,
    /**
     * Origins whose pages may call the API from a browser, with credentials: exact origins
     * (`https://game.example.com,http://127.0.0.1:5500`), comma-separated; `*` is refused.
     * Unset: no CORS headers, same-origin pages only.
     */
    CORS_ORIGINS: corsOriginsSetting,
    /**
     * A move not handled within this many milliseconds of being accepted is rejected as expired
     * (a stalled bus or trainer-service) rather than applied late; 0 turns deadlines off.
     */
    COMMAND_DEADLINE_MS: setting.milliseconds(60_000, 0),
    /**
     * More commands than this waiting for their handler in their topic (sent, not handled yet):
     * new ones are refused with 503 `overloaded` and nothing is sent; 0 turns the check off.
     */
    COMMAND_BACKLOG_MAX: decimal(wholeNumber()).default(10_000),
    /** How long GET /api/commands/{id} knows a command, in seconds. */
    COMMAND_STATUS_RETENTION_S: setting.positiveInt(86_400),
  })
  .check(adminTokenApartFromJwtSecrets, devTokensOutsideProduction);
export type CommandApiConfig = z.output<typeof commandApiConfiguration>;
