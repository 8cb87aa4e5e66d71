import { DEFAULT_REBUILD_NOTIFY_HORIZON_MS } from '../projection/projection.module-options';
import { connectionSettings, serviceSettings, setting, whenValid } from '@causeway/cqrs-core';
import {
  DEFAULT_LOG_MAX_LENGTH,
  DEFAULT_LOG_RETENTION_MS,
  messagingSettings,
  readModelSettings,
} from '@causeway/platform';
import { z } from 'zod';

/** Every setting of projection-worker, validated once at start-up. */
export const projectionWorkerConfiguration = z
  .object({
    ...serviceSettings,
    ...messagingSettings,
    PORT: setting.port(3003),
    REDIS_URL: setting.redisUrl(),
    ...connectionSettings.redis,
    KAFKA_BROKERS: setting.kafkaBrokers(),
    ...connectionSettings.kafka,
    MONGODB_URI: setting.mongoUri(),
    ...connectionSettings.mongodb,
    ...readModelSettings,
    /**
     * After the start, read models are also caught up from the event store this often (it repairs
     * what the bus lost and moves the checkpoint on); at least 10 ms, 0 is refused (the module's
     * `catchUpIntervalMs: 0` disables it, the setting does not). Each run reads the event store
     * (on FerretDB a scan of the whole commits collection, which delays appends meanwhile).
     */
    CATCH_UP_INTERVAL_MS: setting.milliseconds(30_000, 10),
    /**
     * Catch-ups that may fail on one event the event store cannot decode (checksum, schema)
     * before it is given up on and logged; meanwhile the first catch-up holds the live path.
     */
    CATCH_UP_MAX_ATTEMPTS: setting.positiveInt(5),
    /** Retention of the notification log on append (keep equal in every app that appends). */
    NOTIFICATION_LOG_MAX_LENGTH: setting.positiveInt(DEFAULT_LOG_MAX_LENGTH),
    NOTIFICATION_LOG_RETENTION_MS: setting.age(DEFAULT_LOG_RETENTION_MS),
    /**
     * Moves older than this are caught up but not notified (e.g. after a long outage); younger
     * ones the log has not got yet are notified, once. At most NOTIFICATION_LOG_RETENTION_MS
     * (the log's dedup window). Default: that retention (notifyHorizonOf).
     */
    NOTIFY_HORIZON_MS: setting.optionalAge(),
    /**
     * In a rebuild of the read models (no checkpoint, or one that went back: a Redis that came back
     * empty), moves older than this are not notified: the log that knew what was notified is gone,
     * and clients read current positions instead. At most NOTIFY_HORIZON_MS. Default 60 s, or
     * NOTIFY_HORIZON_MS when that is shorter (rebuildHorizonOf).
     */
    NOTIFY_REBUILD_HORIZON_MS: setting.optionalAge(),
  })
  // A horizon set beyond its bound would be cut down without a word: refused, naming both and
  // the bound's value here (a default an operator never set is otherwise to be looked up).
  // Compared only once both settings are valid: a bad NOTIFICATION_LOG_RETENTION_MS was named a
  // second time, as the bound of a horizon that was fine ("here 0 ms"), and a horizon beyond
  // 2^53 - 1 ms was told both bounds. Checked even when other settings are bad (a malformed server
  // URL too), so that the error names every problem at once.
  .superRefine(
    (config, context) => {
      if (
        config.NOTIFY_HORIZON_MS !== undefined &&
        config.NOTIFY_HORIZON_MS > config.NOTIFICATION_LOG_RETENTION_MS
      )
        context.addIssue({
          code: 'custom',
          path: ['NOTIFY_HORIZON_MS'],
          message:
            `must be at most NOTIFICATION_LOG_RETENTION_MS, here ` +
            `${config.NOTIFICATION_LOG_RETENTION_MS} ms (the log dedups moves that long)`,
        });
    },
    whenValid('NOTIFICATION_LOG_RETENTION_MS', 'NOTIFY_HORIZON_MS'),
  )
  .superRefine(
    (config, context) => {
      if (
        config.NOTIFY_REBUILD_HORIZON_MS !== undefined &&
        config.NOTIFY_REBUILD_HORIZON_MS > notifyHorizonOf(config)
      )
        context.addIssue({
          code: 'custom',
          path: ['NOTIFY_REBUILD_HORIZON_MS'],
          message:
            `must be at most NOTIFY_HORIZON_MS, here ${notifyHorizonOf(config)} ms` +
            (config.NOTIFY_HORIZON_MS === undefined
              ? ' (not set: NOTIFICATION_LOG_RETENTION_MS)'
              : ''),
        });
    },
    whenValid('NOTIFICATION_LOG_RETENTION_MS', 'NOTIFY_HORIZON_MS', 'NOTIFY_REBUILD_HORIZON_MS'),
  );
export type ProjectionWorkerConfig = z.output<typeof projectionWorkerConfiguration>;

type Horizons = Pick<
  ProjectionWorkerConfig,
  'NOTIFICATION_LOG_RETENTION_MS' | 'NOTIFY_HORIZON_MS' | 'NOTIFY_REBUILD_HORIZON_MS'
>;

/** NOTIFY_HORIZON_MS, or the log's retention when it is not set. */
export function notifyHorizonOf(config: Horizons): number {
  return config.NOTIFY_HORIZON_MS ?? config.NOTIFICATION_LOG_RETENTION_MS;
}

/** NOTIFY_REBUILD_HORIZON_MS, or 60 s (at most the notify horizon) when it is not set. */
export function rebuildHorizonOf(config: Horizons): number {
  return (
    config.NOTIFY_REBUILD_HORIZON_MS ??
    Math.min(DEFAULT_REBUILD_NOTIFY_HORIZON_MS, notifyHorizonOf(config))
  );
}
