import { randomBytes } from 'node:crypto';
import { serviceSettings, setting, whateverElseFails } from '@causeway/cqrs-core';
import {
  adminTokenApartFromJwtSecrets,
  adminTokenSetting,
  authSettings,
  corsOriginsSetting,
  devTokenSettings,
  devTokensOutsideProduction,
} from '@causeway/platform';
import { historyTtlAboveOrderDelivery, orderSettings } from '@causeway/order-processor';
import { heartbeatBelowConnectionTimeout } from '@causeway/sse-gateway';
import { trainerSettings } from '@causeway/trainer-service';
import { z } from 'zod';

const secret = (bytes: number) => randomBytes(bytes).toString('base64url');

/** An order's delivery is tried this often before the dead letters (the apps' MAX_RETRIES 3, + 1). */
export const ORDER_MAX_ATTEMPTS = 4;
/** The stores' share of an order's delivery time (the apps' EVENT_TIMEOUT_MS default). */
export const ORDER_EVENT_TIMEOUT_MS = 10_000;

/**
 * EVENT_RETENTION_MAX_COUNT at least SNAPSHOT_EVERY when retention runs: a trainer loads from its
 * latest snapshot and the events after it (up to SNAPSHOT_EVERY - 1), so keeping fewer would
 * remove events its state needs (SnapshotGapError: its commands would fail).
 */
const retentionKeepsSnapshottedEvents = z.superRefine<{
  EVENT_RETENTION_MAX_COUNT?: unknown;
  EVENT_RETENTION_INTERVAL_MS?: unknown;
  SNAPSHOT_EVERY?: unknown;
}>((config, ctx) => {
  const { EVENT_RETENTION_MAX_COUNT: kept, SNAPSHOT_EVERY: every } = config;
  if (
    config.EVENT_RETENTION_INTERVAL_MS !== 0 &&
    typeof kept === 'number' &&
    typeof every === 'number' &&
    kept < every
  )
    ctx.addIssue({
      code: 'custom',
      path: ['EVENT_RETENTION_MAX_COUNT'],
      message: `must be at least SNAPSHOT_EVERY (${every}): a trainer loads from its latest snapshot and the events after it`,
    });
}, whateverElseFails());

/**
 * Settings of the embedded mode: everything in one process, nothing to install. Secrets default
 * to random values made at start-up (tokens then die with the process); set them to keep tokens
 * valid across restarts.
 */
export const embeddedConfiguration = z
  .object({
    ...serviceSettings,
    PORT: setting.port(3000),
    JWT_SECRET: authSettings.JWT_SECRET.default(() => secret(32)),
    JWT_ISSUER: z.string().min(1).default('causeway'),
    JWT_MAX_LIFETIME_S: authSettings.JWT_MAX_LIFETIME_S,
    ADMIN_TOKEN: adminTokenSetting.default(() => secret(24)),
    /**
     * POST /api/dev/tokens mints a token for any user name (the demo page signs in with it): full
     * impersonation, so off unless asked for. `npm start` turns it on; refused with
     * NODE_ENV=production.
     */
    ...devTokenSettings,
    /** A move not handled within this long of being accepted is rejected as expired; 0: never. */
    COMMAND_DEADLINE_MS: setting.milliseconds(60_000, 0),
    /** How long an Idempotency-Key's answer is kept (as command-api). */
    IDEMPOTENCY_TTL_S: setting.positiveInt(86_400),
    /** How long GET /api/commands/{id} knows a command (as command-api and trainer-service). */
    COMMAND_STATUS_RETENTION_S: setting.positiveInt(86_400),
    ...trainerSettings,
    /**
     * Events the event store keeps per trainer: a retention job removes the older ones every
     * EVENT_RETENTION_INTERVAL_MS (the in-memory store would otherwise hold every move until the
     * process ends). At least SNAPSHOT_EVERY: a trainer loads from its latest snapshot and the
     * events after it. With SNAPSHOT_EVERY=0 nothing is removed (a trainer is its whole stream).
     */
    EVENT_RETENTION_MAX_COUNT: setting.positiveInt(500),
    /** How often the event store's retention job runs; 0: never (every event is kept). */
    EVENT_RETENTION_INTERVAL_MS: setting.milliseconds(60_000, 0),
    /** The read models also catch up from the event store this often (as projection-worker's). */
    CATCH_UP_INTERVAL_MS: setting.milliseconds(30_000, 10),
    /** The order steps (ORDER_CATALOG, PAYMENT_LIMIT_CENTS, ORDER_STEP_DELAY_MS) and history TTL, as order-processor's. */
    ...orderSettings,
    RATE_LIMIT_POINTS: setting.positiveInt(100),
    RATE_LIMIT_WINDOW_S: setting.timerSeconds(1),
    HISTORY_SIZE: setting.positiveInt(500),
    HISTORY_SCAN_LIMIT: setting.positiveInt(2_000),
    HISTORY_TTL_MS: setting.age(600_000),
    POSITIONS_MAX_AGE_MS: setting.age(86_400_000),
    HEARTBEAT_MS: setting.milliseconds(30_000, 100),
    CONNECTION_TIMEOUT_MS: setting.milliseconds(300_000, 1_000),
    MAX_CONNECTIONS: setting.positiveInt(10_000),
    MAX_CONNECTIONS_PER_USER: setting.positiveInt(10),
    /**
     * Origins whose pages may call the APIs and open streams from a browser, with credentials:
     * exact origins, comma-separated; `*` is refused. Unset: only the app's own pages (the demo).
     */
    CORS_ORIGINS: corsOriginsSetting,
  })
  .check(
    // Its order consumer's own limits (fixed here: no EVENT_TIMEOUT_MS nor MAX_RETRIES settings).
    historyTtlAboveOrderDelivery(() => ({
      eventTimeoutMs: ORDER_EVENT_TIMEOUT_MS,
      maxAttempts: ORDER_MAX_ATTEMPTS,
      settings: `the embedded consumer's ${ORDER_MAX_ATTEMPTS} attempts of ${ORDER_EVENT_TIMEOUT_MS} ms stores`,
    })),
    adminTokenApartFromJwtSecrets,
    devTokensOutsideProduction,
    heartbeatBelowConnectionTimeout,
    retentionKeepsSnapshottedEvents,
  );
export type EmbeddedConfig = z.output<typeof embeddedConfiguration>;
