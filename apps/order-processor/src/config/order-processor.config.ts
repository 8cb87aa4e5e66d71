import {
  connectionSettings,
  decimal,
  minShutdownTimeoutMs,
  serviceSettings,
  setting,
  wholeNumber,
} from '@causeway/cqrs-core';
import { CLOSE_GRACE_MS } from '@causeway/cqrs-core/kafka';
import {
  adminTokenApartFromJwtSecrets,
  authSettings,
  corsOriginsSetting,
  DEFAULT_LOG_MAX_LENGTH,
  DEFAULT_LOG_RETENTION_MS,
  messagingSettings,
  trustProxySetting,
} from '@causeway/platform';
import { z } from 'zod';
import { historyTtlAboveOrderDelivery } from '../orders/order-delivery.limits';
import { type OrderCatalog } from '../orders/order-steps';

/** The demo shop: what ORDER_CATALOG is when unset (a piano is over the default payment limit). */
export const DEFAULT_ORDER_CATALOG: OrderCatalog = {
  'sku-apple': { stock: 100, priceCents: 50 },
  'sku-book': { stock: 20, priceCents: 1_500 },
  'sku-lamp': { stock: 3, priceCents: 4_000 },
  'sku-piano': { stock: 2, priceCents: 500_000 },
};

/** What ORDER_CATALOG must be, in its errors. */
const CATALOG_FORM = '{"<sku>": {"stock": n, "priceCents": n}}';

/**
 * A sku's entry. Each message names its field (zod's own, "Invalid input: expected number,
 * received undefined", named neither `stock` nor `priceCents`, nor what the entry should be), and
 * a value beyond 2^53 - 1 the bound (zod's int() told it "must be a whole number", which it is).
 */
const CatalogEntry = z.strictObject(
  {
    stock: wholeNumber('a whole number of units', 'stock'),
    priceCents: wholeNumber('a whole number of cents', 'priceCents'),
  },
  {
    error: (issue) =>
      issue.code === 'invalid_type' ? 'must be {"stock": n, "priceCents": n}' : undefined,
  },
);

/**
 * ORDER_CATALOG: JSON `{"<sku>": {"stock": <units>, "priceCents": <cents>}, …}`. Parsed here so
 * a bad value stops the start naming the setting (and the sku), not the first order.
 */
const orderCatalogSetting = z
  .string()
  .optional()
  .transform((text, context): OrderCatalog => {
    if (text === undefined || text.trim() === '') return DEFAULT_ORDER_CATALOG;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      context.addIssue({
        code: 'custom',
        message: `must be JSON: ${CATALOG_FORM}`,
      });
      return z.NEVER;
    }
    const catalog = z
      .record(z.string().min(1), CatalogEntry, {
        error: (issue) =>
          issue.code === 'invalid_type'
            ? `must be JSON: ${CATALOG_FORM}`
            : issue.code === 'invalid_key'
              ? 'a sku must not be empty'
              : undefined,
      })
      .safeParse(parsed);
    if (!catalog.success) {
      const issue = catalog.error.issues[0]!;
      const where =
        issue.path.length > 0 && issue.code !== 'invalid_key'
          ? `sku ${String(issue.path[0])}: `
          : '';
      context.addIssue({ code: 'custom', message: `${where}${issue.message}` });
      return z.NEVER;
    }
    if (Object.keys(catalog.data).length === 0) {
      context.addIssue({ code: 'custom', message: 'must list at least one sku' });
      return z.NEVER;
    }
    return catalog.data;
  });

/**
 * The settings of the order steps and their history, for order-processor and the embedded mode
 * (which runs the same steps in process).
 */
export const orderSettings = {
  /**
   * S3-7: how long a task's history (its stream) and status are kept after its last event; an
   * unfinished task is ended FAILED "expired" then. More than the longest an order's delivery
   * may run (historyTtlAboveOrderDelivery, checked by each app against its consumer's limits).
   */
  PROGRESS_HISTORY_TTL_MS: setting.age(86_400_000),
  /** How often the retention job looks for expired task streams. */
  PROGRESS_RETENTION_INTERVAL_MS: setting.milliseconds(60_000),
  /** The pause before each step after STARTED, so a browser sees the bar move (0 in tests). */
  ORDER_STEP_DELAY_MS: setting.milliseconds(400, 0),
  ORDER_CATALOG: orderCatalogSetting,
  /** The largest order total the payment step accepts, in cents. */
  PAYMENT_LIMIT_CENTS: decimal(wholeNumber('a whole number of cents')).default(100_000),
};

/** A default broker's group.min.session.timeout.ms and group.max.session.timeout.ms. */
const MIN_SESSION_TIMEOUT_MS = 6_000;
const MAX_SESSION_TIMEOUT_MS = 1_800_000;

/**
 * The shortest SHUTDOWN_TIMEOUT_MS: three quarters of it go to the order consumer's Kafka close
 * (subscriptionCloseTimeoutMs), which takes up to CLOSE_GRACE_MS past its closeTimeoutMs to
 * commit what finished and leave the group. Below this the grace alone outlasted that share, and
 * the stores and connections closed after it were cut off by the shutdown timeout (session 48).
 */
const MIN_SHUTDOWN_TIMEOUT_MS = minShutdownTimeoutMs(CLOSE_GRACE_MS);

/** Every setting of order-processor, validated once at start-up. */
export const orderProcessorConfiguration = z
  .object({
    ...serviceSettings,
    // Its own minimum, above serviceSettings' (a refinement after it named both).
    SHUTDOWN_TIMEOUT_MS: setting.milliseconds(
      10_000,
      MIN_SHUTDOWN_TIMEOUT_MS,
      `must be at least ${MIN_SHUTDOWN_TIMEOUT_MS} ms: three quarters of it go to the order ` +
        `consumer's Kafka close, which takes up to CLOSE_GRACE_MS (${CLOSE_GRACE_MS} ms, the ` +
        "Kafka subscriber's close grace) to commit and leave its group",
    ),
    ...messagingSettings,
    ...authSettings,
    PORT: setting.port(3002),
    REDIS_URL: setting.redisUrl(),
    ...connectionSettings.redis,
    KAFKA_BROKERS: setting.kafkaBrokers(),
    ...connectionSettings.kafka,
    MONGODB_URI: setting.mongoUri(),
    ...connectionSettings.mongodb,
    ...orderSettings,
    /** The notification log it appends progress to: the same settings as trainer-service's. */
    NOTIFICATION_LOG_MAX_LENGTH: setting.positiveInt(DEFAULT_LOG_MAX_LENGTH),
    NOTIFICATION_LOG_RETENTION_MS: setting.age(DEFAULT_LOG_RETENTION_MS),
    /**
     * The order consumer's Kafka session: a member silent this long is dropped from the group. A
     * member that died holds up every other's join until then (a restart, a scale-up). Within a
     * default broker's group.min.session.timeout.ms and group.max.session.timeout.ms (6 s, 30
     * min): a broker refuses a join outside them, and the consumer restarted without end. It
     * heartbeats every tenth of it (at least 500 ms).
     */
    ORDER_CONSUMER_SESSION_TIMEOUT_MS: setting
      .milliseconds(10_000)
      .refine((value) => value >= MIN_SESSION_TIMEOUT_MS, {
        message: `must be at least ${MIN_SESSION_TIMEOUT_MS} ms (a default broker's group.min.session.timeout.ms)`,
      })
      .refine((value) => value <= MAX_SESSION_TIMEOUT_MS, {
        message: `must be at most ${MAX_SESSION_TIMEOUT_MS} ms (a default broker's group.max.session.timeout.ms)`,
      }),
    /** Kafka partitions of the order topic when it creates it (its consumer, a replay). */
    ORDER_TOPIC_PARTITIONS: setting.positiveInt(6),
    /**
     * Progress reads per caller per RATE_LIMIT_WINDOW_S seconds, counted in Redis across the
     * instances, apart from command-api's and sse-gateway's counters.
     */
    RATE_LIMIT_POINTS: setting.positiveInt(100),
    RATE_LIMIT_WINDOW_S: setting.positiveInt(1),
    /** Whose `X-Forwarded-For` names a caller without a valid token (the edge: `loopback`). */
    TRUST_PROXY: trustProxySetting,
    /**
     * Origins whose pages may call the progress reads from a browser, with credentials: exact
     * origins, comma-separated; `*` is refused. Set it as on command-api and sse-gateway: a page
     * that places orders there follows their `statusUrl` here. Unset: same-origin pages only.
     */
    CORS_ORIGINS: corsOriginsSetting,
  })
  .check(
    // The consumer's limits: EVENT_TIMEOUT_MS per attempt (plus the pauses), MAX_RETRIES + 1 attempts.
    historyTtlAboveOrderDelivery(
      (config) => ({
        eventTimeoutMs: config.EVENT_TIMEOUT_MS,
        maxAttempts: typeof config.MAX_RETRIES === 'number' ? config.MAX_RETRIES + 1 : undefined,
        settings: `EVENT_TIMEOUT_MS ${String(config.EVENT_TIMEOUT_MS)}, MAX_RETRIES ${String(config.MAX_RETRIES)}`,
      }),
      ['EVENT_TIMEOUT_MS', 'MAX_RETRIES'],
    ),
    adminTokenApartFromJwtSecrets,
  );
export type OrderProcessorConfig = z.output<typeof orderProcessorConfiguration>;
