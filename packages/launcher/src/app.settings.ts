/**
 * The settings the apps read (README "Configuration") that the launcher does not plan itself.
 * The planned ones — PORT, HOST, INSTANCE_ID, LOG_LEVEL, ADMIN_TOKEN, JWT_SECRET,
 * JWT_PREVIOUS_SECRETS, DEV_TOKENS, READ_MODEL_STORE and the server URLs — come from
 * planInstances (the token secrets only to the apps that verify tokens); these pass through from the
 * launcher's environment as they are, so `TOPIC_PREFIX=staging- npm run start:distributed`
 * reaches every app. An app ignores the ones it does not read. test/app.settings.unit.spec.ts
 * keeps the list in step with the apps' configuration schemas.
 */
export const APP_SETTINGS: readonly string[] = [
  // every app
  'SHUTDOWN_TIMEOUT_MS',
  'HTTP_KEEP_ALIVE_TIMEOUT_MS',
  'TOPIC_PREFIX',
  'COMMAND_TIMEOUT_MS',
  'COMMAND_CLOCK_SKEW_MS',
  'EVENT_TIMEOUT_MS',
  'MAX_RETRIES',
  'REDIS_STREAMS_PARTITIONS',
  'REDIS_STREAMS_PRIORITIES',
  'REDIS_STREAMS_LEASE_MS',
  'REDIS_STREAMS_CLAIM_IDLE_MS',
  'REDIS_STREAMS_MAX_LENGTH',
  'DEDUP_LEASE_MS',
  'REDIS_CONNECT_TIMEOUT_MS',
  'REDIS_COMMAND_TIMEOUT_MS',
  'REDIS_SILENCE_TIMEOUT_MS',
  'KAFKA_REQUEST_TIMEOUT_MS',
  'MONGODB_POOL_SIZE',
  'MONGODB_TIMEOUT_MS',
  'MONGODB_SILENCE_TIMEOUT_MS',
  // command-api and sse-gateway (JWT_*, RATE_LIMIT_* and CORS_ORIGINS order-processor too)
  'JWT_ISSUER',
  'JWT_MAX_LIFETIME_S',
  'RATE_LIMIT_POINTS',
  'RATE_LIMIT_WINDOW_S',
  'CORS_ORIGINS',
  // command-api
  'MAX_BODY_BYTES',
  'COMMANDS_THROUGH_EXPRESS',
  'ORDER_PUBLISH_TIMEOUT_MS',
  'IDEMPOTENCY_TTL_S',
  'COMMAND_STATUS_RETENTION_S',
  'COMMAND_DEADLINE_MS',
  'COMMAND_BACKLOG_MAX',
  // (production refuses DEV_TOKENS=true: NODE_ENV=production with the launcher's default fails)
  'NODE_ENV',
  // trainer-service
  'TRAINER_SPEED',
  'TRAINER_MAX_GROUPS',
  'GROUP_MAX_MEMBERS',
  'SNAPSHOT_EVERY',
  'FORWARDER_LEASE_MS',
  'FORWARDER_POLL_INTERVAL_MS',
  'EAGER_NOTIFICATIONS',
  'DRAIN_OLD_COMMAND_TOPICS',
  // trainer-service, projection-worker and order-processor
  'NOTIFICATION_LOG_MAX_LENGTH',
  'NOTIFICATION_LOG_RETENTION_MS',
  // order-processor (PROGRESS_HISTORY_TTL_MS command-api and sse-gateway too)
  'PROGRESS_HISTORY_TTL_MS',
  'PROGRESS_RETENTION_INTERVAL_MS',
  'ORDER_STEP_DELAY_MS',
  'ORDER_CATALOG',
  'PAYMENT_LIMIT_CENTS',
  'ORDER_CONSUMER_SESSION_TIMEOUT_MS',
  'ORDER_TOPIC_PARTITIONS',
  // projection-worker
  'CATCH_UP_INTERVAL_MS',
  'CATCH_UP_MAX_ATTEMPTS',
  'NOTIFY_HORIZON_MS',
  'NOTIFY_REBUILD_HORIZON_MS',
  // sse-gateway
  'HEARTBEAT_MS',
  'CONNECTION_TIMEOUT_MS',
  'MAX_CONNECTIONS',
  'MAX_CONNECTIONS_PER_USER',
  'BUFFER_MAX_BYTES',
  'STALL_TIMEOUT_MS',
  'HISTORY_SIZE',
  'HISTORY_TTL_MS',
  'HISTORY_SCAN_LIMIT',
  'POSITIONS_MAX_AGE_MS',
  'PRESENCE_TTL_MS',
  'CONNECTION_EVENTS_MAX_LENGTH',
  'SSE_RETRY_MS',
  'RETRY_AFTER_SECONDS',
];

/**
 * OpenTelemetry's own variables (`OTEL_*`, README "Configuration") pass through too, all but
 * OTEL_SERVICE_NAME: each app names itself (trainer-service, sse-gateway, …) unless told otherwise.
 */
const TELEMETRY_SETTING = /^OTEL_(?!SERVICE_NAME$)[A-Z0-9_]+$/;

/**
 * Node's own options pass through too (e.g. `NODE_OPTIONS=--max-old-space-size=512`, or
 * `--heapsnapshot-signal=SIGUSR2` to take heap snapshots of running apps).
 */
const RUNTIME_SETTINGS: readonly string[] = ['NODE_OPTIONS'];

/** The APP_SETTINGS, OpenTelemetry and runtime settings that `environment` sets (non-empty). */
export function appSettingsOf(environment: NodeJS.ProcessEnv): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const [name, value] of Object.entries(environment))
    if (
      value !== undefined &&
      value !== '' &&
      (APP_SETTINGS.includes(name) ||
        TELEMETRY_SETTING.test(name) ||
        RUNTIME_SETTINGS.includes(name))
    )
      settings[name] = value;
  return settings;
}
