import { type CheckpointStore, type EventStore } from '@causeway/cqrs-core';
import { type GroupMembers, type NotificationLog, type TrainerPositions } from '@causeway/platform';
import { type Registry } from 'prom-client';

/** The ports and settings of the projection feature; the app or the embedded mode provides them. */
/** How old a move a rebuild of the read models still notifies (see ProjectionRunner.notified). */
export const DEFAULT_REBUILD_NOTIFY_HORIZON_MS = 60_000;

export interface ProjectionModuleOptions {
  /** This instance: `serverId` of the notifications it produces. */
  serverId: string;
  /** Where the read models are caught up from at start. */
  eventStore: EventStore;
  positions: TrainerPositions;
  groups: GroupMembers;
  notifications: NotificationLog;
  /** Checkpoint of the catch-up reader (`<name>`). */
  checkpoints: CheckpointStore;
  /** Checkpoint name. Default 'projection-worker.read-models'. */
  checkpointName?: string;
  /**
   * Moves older than this (by their event's timestamp) are applied but not notified, e.g. after
   * a long outage. Keep it at most the notification log's retention (its dedup window), or a
   * move notified before could be notified again. Default: the default retention (24 h).
   */
  notifyHorizonMs?: number;
  /**
   * How old a move a rebuild of the read models (no checkpoint, or one that went back) still
   * notifies; default 60 s, at most `notifyHorizonMs`.
   */
  rebuildNotifyHorizonMs?: number;
  /** After the start, the read models are also caught up from the store this often. Default 30 s; 0 disables. */
  catchUpIntervalMs?: number;
  /**
   * Catch-up runs that may fail on one event the store cannot decode before it is given up on
   * (logged with its stream, version and position). Default 5.
   */
  maxAttempts?: number;
  /** Where `causeway_projection_skipped_events_total` is registered. Default: no metric. */
  registry?: Registry;
  /**
   * Awaited before the catch-up starts, e.g. "connected to MongoDB and indexes created". Until the
   * catch-up finished, live events are deferred (redelivered later). Default: nothing.
   */
  ready?: () => Promise<void>;
}

export const PROJECTION_MODULE_OPTIONS = Symbol('projection:module-options');
