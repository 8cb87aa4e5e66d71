import {
  type CheckpointStore,
  type EventStore,
  type ForwardLedger,
  type Lease,
  type SnapshotStore,
} from '@causeway/cqrs-core';
import {
  type CommandStatusStore,
  type GroupMembers,
  type NotificationLog,
  type TrainerPositions,
} from '@causeway/platform';

/** The ports and settings of the trainer feature; the app or the embedded mode provides them. */
export interface TrainerModuleOptions {
  /** This instance: `serverId` of the notifications it produces. */
  serverId: string;
  eventStore: EventStore;
  /** Snapshots of trainers (optional: without them every load replays the stream). */
  snapshots?: SnapshotStore;
  commandStatus: CommandStatusStore;
  notifications: NotificationLog;
  /**
   * The GroupMembers read model (projection-worker writes it): given, a move's `position.update`
   * is appended right after the append (eager notification, ADR 007) instead of only after the
   * event reached projection-worker, and a join or leave is written through to it right after
   * its append (at the event's version; projection-worker's later apply is then a no-op), so
   * that the eager audiences follow memberships while projection-worker lags or is down.
   * Without it, only projection-worker notifies and writes memberships.
   */
  eagerNotifications?: {
    groups: GroupMembers;
    /** Given, a trainer's first move is written through to it (listed before projection-worker applies it). */
    positions?: TrainerPositions;
  };
  /** The most groups a trainer may be in (TRAINER_MAX_GROUPS). Default 16. */
  maxGroups?: number;
  /**
   * The most members a group may have (GROUP_MAX_MEMBERS), counted in `groups` (the GroupMembers
   * read model) before a join is decided: a join of a full group ends `rejected`. Unset: groups
   * are not bounded (TrainerCommandHandlerOptions.groupLimit).
   */
  groupLimit?: { maxMembers: number; groups: GroupMembers };
  /** Units per second (TRAINER_SPEED). Default 100. */
  speed?: number;
  /** Snapshot every this many events (SNAPSHOT_EVERY); 0 disables. Default 50. */
  snapshotEvery?: number;
  /**
   * The clock outcomes are stamped with (`completedAt`): the one commands are stamped with (a
   * ServerClock over Redis), so a status never completes before it was accepted. Default:
   * this host's clock. Also the clock a move's deadline is checked by, right before its append.
   */
  now?: () => Date;
  /** COMMAND_CLOCK_SKEW_MS, as the command bus allows it (`checkDeadline`). Default 0. */
  clockSkewMs?: number;
  forwarder: {
    checkpoints: CheckpointStore;
    /** With several instances: only the holder forwards. Without: this instance always forwards. */
    lease?: Lease;
    /** Checkpoint name. Default 'trainer-service.forwarder'. */
    name?: string;
    pollIntervalMs?: number;
    /** What every instance published eagerly, so that rounds need not read the store for it. */
    ledger?: ForwardLedger;
  };
  /**
   * Awaited before commands are handled and the forwarder starts, e.g. "connected to MongoDB
   * and stores initialised". Until it resolves the command handler is not registered: this
   * instance does not join the command group (the running instances keep its share of the
   * partitions) and its `trainer-commands` readiness probe is down.
   * Default: `eventStore.init()` and `snapshots.init()`.
   */
  ready?: () => Promise<void>;
  /**
   * Also handle the commands left in each command type's own topic (`commands.MoveTrainerCommand`,
   * `commands.ChangeGroupCommand`), where they went before a trainer's commands shared
   * `commands.Trainer` (CommandHandlerOptions.drainOwnTopics): a rolling upgrade strands none.
   * Default true; set false in a deployment that never had them, or once they are empty.
   */
  drainOwnCommandTopics?: boolean;
}

export const TRAINER_MODULE_OPTIONS = Symbol('trainer:module-options');
export const TRAINER_READY = Symbol('trainer:ready');

/** The value of TRAINER_READY: resolves once the stores can be used. */
export interface Readiness {
  promise: Promise<void>;
}
