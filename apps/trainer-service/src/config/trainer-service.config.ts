import {
  connectionSettings,
  decimal,
  serviceSettings,
  setting,
  wholeNumber,
} from '@causeway/cqrs-core';
import {
  DEFAULT_LOG_MAX_LENGTH,
  DEFAULT_LOG_RETENTION_MS,
  messagingSettings,
  readModelSettings,
} from '@causeway/platform';
import { z } from 'zod';

/**
 * The fastest TRAINER_SPEED: a trainer moving at it for a century is still within 2^53 units
 * of the origin, where a position keeps whole-unit precision (and is far from overflowing).
 */
export const MAX_TRAINER_SPEED = 1_000_000;

/** The trainer's own settings, shared with the embedded mode. */
export const trainerSettings = {
  /**
   * Trainer speed, units per second, at most MAX_TRAINER_SPEED. A speed of 1e308 (written out
   * in digits) started: a trainer moving for two seconds was at an infinite position, which no
   * TrainerMovedEvent may hold — every later move of it, its stop included, was refused.
   */
  TRAINER_SPEED: decimal(
    z
      .number({ message: 'must be a positive number' })
      .positive('must be a positive number')
      .max(MAX_TRAINER_SPEED, `must be at most ${MAX_TRAINER_SPEED} (units per second)`),
  ).default(100),
  /**
   * The most groups one trainer may be in: a join beyond it is rejected. Every move carries and
   * is addressed to the trainer's groups, so its cost grows with them.
   */
  TRAINER_MAX_GROUPS: setting.positiveInt(16),
  /**
   * The most members a group may have: a join of a full group is rejected. Every move of a
   * member is addressed to all the members of its groups (~17 bytes each in the notification).
   */
  GROUP_MAX_MEMBERS: setting.positiveInt(1_000),
  /** Snapshot a trainer every this many events; 0 disables snapshots. */
  SNAPSHOT_EVERY: decimal(
    wholeNumber('a non-negative integer', {
      maxMessage: `must be at most ${Number.MAX_SAFE_INTEGER} (events)`,
    }),
  ).default(50),
};

/** Every setting of trainer-service, validated once at start-up. */
export const trainerServiceConfiguration = z.object({
  ...serviceSettings,
  ...messagingSettings,
  PORT: setting.port(3001),
  REDIS_URL: setting.redisUrl(),
  ...connectionSettings.redis,
  MONGODB_URI: setting.mongoUri(),
  ...connectionSettings.mongodb,
  ...trainerSettings,
  /**
   * Lease of the outbox forwarder: another instance takes over this long after the holder died.
   * At least 300 ms, as the setting's own minimum (a refinement after it told 0 "must be at least
   * 1 ms" and then "must be at least 300", without its unit).
   */
  FORWARDER_LEASE_MS: setting.milliseconds(5_000, 300),
  /**
   * How often the forwarder's rounds look for events that eager forwarding could not publish.
   * A round passes what the instances recorded in the forward ledger (Redis) and reads the event
   * store (on FerretDB a scan of the whole collection) only for an event still unrecorded a round
   * later, and at least every 30 s. A failed eager publish in the lease holder wakes the rounds
   * at once; elsewhere it waits for the next round but one. At least 10 ms: a forwarder polling
   * without pause spins a core.
   */
  FORWARDER_POLL_INTERVAL_MS: setting.milliseconds(2_000, 10),
  /**
   * Eager notifications (ADR 007): append a move's `position.update` right after the append,
   * reading the GroupMembers read model (READ_MODEL_STORE, as in projection-worker), instead of
   * only after the event's trip through projection-worker, which notifies every event anyway.
   */
  EAGER_NOTIFICATIONS: setting.boolean(true),
  /**
   * Also handle commands left in the per-type topics a trainer's commands used before they
   * shared `commands.Trainer` (TrainerModuleOptions.drainOwnCommandTopics). Turn off once those
   * topics' groups have no lag and their dead letters are replayed or purged.
   */
  DRAIN_OLD_COMMAND_TOPICS: setting.boolean(true),
  ...readModelSettings,
  /** How long command statuses are kept (shared with command-api). */
  COMMAND_STATUS_RETENTION_S: setting.positiveInt(86_400),
  /** Retention of the notification log on append (keep equal in every app that appends). */
  NOTIFICATION_LOG_MAX_LENGTH: setting.positiveInt(DEFAULT_LOG_MAX_LENGTH),
  NOTIFICATION_LOG_RETENTION_MS: setting.age(DEFAULT_LOG_RETENTION_MS),
});
export type TrainerServiceConfig = z.output<typeof trainerServiceConfiguration>;
