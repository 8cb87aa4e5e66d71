import { connectionSettings, serviceSettings, setting } from '@causeway/cqrs-core';
import {
  adminTokenApartFromJwtSecrets,
  authSettings,
  corsOriginsSetting,
  messagingSettings,
  mongoUriForMongoReadModels,
  readModelSettings,
  trustProxySetting,
} from '@causeway/platform';
import { z } from 'zod';
import { heartbeatBelowConnectionTimeout } from '../gateway/gateway.settings';

/**
 * Every setting of sse-gateway, validated once at start-up. MongoDB holds nothing of the
 * gateway's own: it needs MONGODB_URI only to read the read models with READ_MODEL_STORE=mongodb.
 */
export const sseGatewayConfiguration = z
  .object({
    ...serviceSettings,
    ...messagingSettings,
    ...authSettings,
    PORT: setting.port(3004),
    REDIS_URL: setting.redisUrl(),
    ...connectionSettings.redis,
    MONGODB_URI: setting.mongoUri().optional(),
    ...connectionSettings.mongodb,
    ...readModelSettings,
    /** S0-9: a comment line to every stream this often. */
    HEARTBEAT_MS: setting.milliseconds(30_000, 100),
    /** S0-9: streams are closed (with a retry hint) after this long. */
    CONNECTION_TIMEOUT_MS: setting.milliseconds(300_000, 1_000),
    /** S0-9: open streams per instance; beyond it 503 + Retry-After. */
    MAX_CONNECTIONS: setting.positiveInt(10_000),
    /** Open streams per user per instance; beyond it 429 + Retry-After. */
    MAX_CONNECTIONS_PER_USER: setting.positiveInt(10),
    /** Unwritten bytes per stream before the client is dropped as too slow (it can resume). */
    BUFFER_MAX_BYTES: setting.positiveInt(1024 * 1024),
    /**
     * A stream whose unwritten bytes have not emptied for this long is dropped as too slow: a
     * client that stopped reading fills the kernel's send buffer first, unseen by BUFFER_MAX_BYTES.
     */
    STALL_TIMEOUT_MS: setting.milliseconds(30_000, 100),
    /** Missed notifications per user replayed on resume; more → recovery. */
    HISTORY_SIZE: setting.positiveInt(500),
    /**
     * At most this many log entries of a resume's gap are read (addressed to anyone): beyond it,
     * `recovery` (scan-limit). Bounds what one reconnect costs.
     */
    HISTORY_SCAN_LIMIT: setting.positiveInt(2_000),
    /** Missed notifications older than this are not replayed → recovery (expired). */
    HISTORY_TTL_MS: setting.age(600_000),
    /**
     * GET /api/positions and recovery frames show trainers that moved this recently: their cost
     * follows the trainers active lately, not every trainer that ever moved.
     */
    POSITIONS_MAX_AGE_MS: setting.age(86_400_000),
    /**
     * S3-7: how long a task's progress status is kept after its last event — the `recovery`
     * events of the progress streams read it (order-processor writes it with the same setting).
     */
    PROGRESS_HISTORY_TTL_MS: setting.age(86_400_000),
    /** The `retry:` hint sent to clients (shutdown adds jitter up to as much again). */
    SSE_RETRY_MS: setting.milliseconds(2_000),
    /** Retry-After of 503 / 429 answers, in seconds. */
    RETRY_AFTER_SECONDS: setting.positiveInt(5),
    /** An instance's presence expires this long after its last heartbeat (beats every third). */
    PRESENCE_TTL_MS: setting.milliseconds(15_000, 1_000),
    /**
     * Entries kept per stream of the ConnectionEstablished / ConnectionClosed topics (S0-8).
     * Nothing in the reference system reads them, so far fewer than the buses' default; raise it
     * when a consumer of yours may fall that far behind.
     */
    CONNECTION_EVENTS_MAX_LENGTH: setting.positiveInt(10_000),
    /**
     * Requests (and stream opens) per caller per RATE_LIMIT_WINDOW_S seconds, counted in Redis
     * across instances: per user id, or per client address without a valid credential.
     */
    RATE_LIMIT_POINTS: setting.positiveInt(100),
    RATE_LIMIT_WINDOW_S: setting.positiveInt(1),
    /** Reverse proxies whose X-Forwarded-For names the client (the rate limit's address). */
    TRUST_PROXY: trustProxySetting,
    /**
     * Origins whose pages may open streams and call the API from a browser, with credentials
     * (the session cookie): exact origins, comma-separated; `*` is refused. Unset: no CORS.
     */
    CORS_ORIGINS: corsOriginsSetting,
  })
  .check(
    mongoUriForMongoReadModels,
    adminTokenApartFromJwtSecrets,
    heartbeatBelowConnectionTimeout,
  );
export type SseGatewayConfig = z.output<typeof sseGatewayConfiguration>;
