import {
  checkDeadline,
  type CommandExpiredError,
  decideEvents,
  DeferredError,
  type Envelope,
  type EventStore,
  type SnapshotStore,
  PermanentError,
  retryOnConflict,
  type RetryOnConflictOptions,
} from '@causeway/cqrs-core';
import {
  CHANGE_GROUP_COMMAND,
  type ChangeGroupCommand,
  MOVE_TRAINER_COMMAND,
  type MoveTrainerCommand,
  TRAINER_JOINED_GROUP_EVENT,
  TRAINER_LEFT_GROUP_EVENT,
  TRAINER_MOVED_EVENT,
  type TrainerMovedEvent,
} from '@causeway/contracts';
import {
  type Audience,
  type CommandStatusStore,
  FAILED_REASON_PREFIX,
  type GroupMembers,
  type NotificationLog,
  type PositionNotifier,
  positionRow,
  type TrainerPosition,
  type TrainerPositions,
} from '@causeway/platform';
import { commandEventId } from './command-event-ids';
import { expiryReason } from './command-expiry.reason';
import { type TrainerCommand, type TrainerEvent, trainerDecider } from './trainer.decider';
import { TrainerCache } from './trainer.cache';
import { TrainerStream, type TrainerStreamState, trainerStreamId } from './trainer.stream';

/** What became of a command; also the command bus reply of a `request`. */
export interface CommandOutcome {
  status: 'processed' | 'rejected';
  /** The trainer's stream version after the command (processed only). */
  version?: number;
  reason?: string;
}

export interface TrainerCommandHandlerOptions {
  /** This instance: the `serverId` of the notifications it produces. */
  serverId: string;
  eventStore: EventStore;
  snapshots?: SnapshotStore;
  commandStatus: CommandStatusStore;
  notifications: NotificationLog;
  /** Trainer speed in units per second. */
  speed: number;
  /** The most groups a trainer may be in (see trainerDecider). Default DEFAULT_MAX_GROUPS. */
  maxGroups?: number;
  /**
   * The most members a group may have: before a join is decided, the group's members are
   * counted in `groups` (the GroupMembers read model), and a join of a full group is rejected
   * (GroupFullError). The count is the read model's: joins of one group handled at the same
   * time (other trainers, other instances) may each see room for one more. A failed read fails
   * the command (retried), never lets it through. Unset: groups are not bounded.
   */
  groupLimit?: { maxMembers: number; groups: GroupMembers };
  /** Snapshot every this many events; 0 disables snapshots. */
  snapshotEvery: number;
  /** Retry on concurrency conflicts (reload, decide, append again). Default 10 attempts. */
  conflictRetry?: RetryOnConflictOptions;
  /** Resolves once the stores can be used; until then commands are deferred (redelivered later). */
  ready?: Promise<void>;
  /** Default: the system clock. Also the clock a command's deadline is checked by before its append. */
  now?: () => Date;
  /** Allowed clock skew when the deadline is checked before the append (`checkDeadline`). Default 0. */
  clockSkewMs?: number;
  /** Trainers kept in memory after a save, so the next command skips the load. Default 10 000; 0 disables. */
  cacheSize?: number;
  /**
   * The command transport numbers a delivery that follows a crash 2 or more (Redis Streams, the
   * in-memory broker; not Kafka, whose messages handled but not committed start at 1 again on
   * the next owner). Then a first delivery that expired, of a command recorded `accepted` and
   * never begun here, is recorded without reading the trainer's stream (see expired).
   * Default false: the stream is read for every expired command.
   */
  countsRedeliveries?: boolean;
  /**
   * Eager notifications (ADR 007): when set, the `position.update` of a move is appended to the
   * notification log right after the append, beside the status, instead of only after the event's
   * trip over the bus to projection-worker (which still notifies every event: the guarantee; the
   * log keeps the first). A failure here only logs through `onError` and pauses the fast path
   * for `pauseMs`, so that notifications stay in order while the log is in trouble.
   */
  eagerNotifications?: {
    notifier: PositionNotifier;
    onError?: (error: unknown) => void;
    /** Default 30 s. */
    pauseMs?: number;
  };
  /**
   * Write-through of memberships (ADR 007, addendum "memberships written through"): when set,
   * a processed join or leave is applied to this GroupMembers read model at the event's stream
   * version right after the append, before the command's outcome is recorded, instead of only
   * when projection-worker gets to the event (which applies it again: a no-op, the version is
   * not greater). So the audience of the eager notifications that follow, on any instance, no
   * longer waits for projection-worker (a member that left stopped receiving a group's moves
   * only once it was back). Best effort: a failure is reported through `onError` and leaves the
   * change to projection-worker; the command still succeeds. A redelivered change that was
   * stored already is written through again (the instance may have died before it did).
   */
  groupMembers?: {
    groups: GroupMembers;
    /**
     * The positions read model: a trainer's first move is written through to it the same way,
     * so that the trainer is listed (GET /api/positions, `recovery`) before projection-worker
     * applies the move. Readers bring existing rows up to the log's newest move
     * (withLoggedMoves); a trainer without a row would be missing until then.
     */
    positions?: TrainerPositions;
    onError?: (error: unknown) => void;
    /**
     * A write-through that has not answered after this long is reported as failed and left to
     * projection-worker, so a hung read-model store does not hold the command (and the
     * trainer's next ones) until the command timeout. Default 2 000 ms.
     */
    timeoutMs?: number;
  };
}

/** A join or leave this command appended (or had appended before a redelivery). */
interface MembershipChange {
  trainerId: string;
  groupId: string;
  action: 'join' | 'leave';
  /** The event's stream version. */
  version: number;
}

/** A move this command appended: what its eager notification needs. */
interface Moved {
  eventId: string;
  data: TrainerMovedEvent;
  /** The event's stream version, and the stream's before it (the log keeps a trainer's moves in order). */
  version: number;
  previous: number;
  /** Its audience: read while the event was appended, or now (see audienceReader); an Error if the read failed. */
  audience: () => Promise<Audience | undefined | Error>;
}

/** How many command ids TrainerCommandHandler remembers having begun to handle. */
const BEGUN_KEPT = 100_000;
/** How long expired redeliveries of one trainer share a read of its stream (see recentOf). */
const RECENT_READ_SHARED_MS = 30_000;
/** At most this many trainers' shared reads are kept (a backlog's; cleared beyond). */
const RECENT_READS_KEPT = 10_000;

type Recent = TrainerStreamState['recent'];
/** A read of a trainer's recent command ids, and the stream version it read to. */
interface RecentRead {
  recent: Recent;
  version: number;
}

export const TRAINER_COMMANDS = [MOVE_TRAINER_COMMAND, CHANGE_GROUP_COMMAND] as const;

/**
 * Handles MoveTrainerCommand and ChangeGroupCommand: load the trainer (snapshot + tail) → decide
 * → append with the expected version (again from the load on a conflict) → record the outcome in
 * the CommandStatusStore → append a `command.result` notification for the issuer.
 *
 * - A domain rejection (a PermanentError from decide: InvalidMoveError, UnknownTrainerError) is
 *   an outcome, not a failure: status `rejected` with the reason, and the command is acknowledged.
 * - Anything else (a server down, conflicts beyond the retries) is thrown to the router, which
 *   retries and finally dead-letters it; `deadLettered` then records the rejection (or
 *   `processed`, when the trainer's stream shows it applied).
 * - A command that expired before it was handled (its deadline passed: the command bus did not
 *   run the handler) is never applied: `expired` records it `rejected` with the reason —
 *   unless an earlier attempt had applied it, which a redelivery after a crash can find. A
 *   later copy of an expired command id, within a later deadline, is answered `rejected` with
 *   the same reason, not applied (earlierOutcome); so is a later copy of one the domain refused.
 * - Redelivery is safe at every step: events get ids derived from the command id, a command that
 *   already produced events is recognised on load (among the trainer's RECENT_COMMANDS) or by
 *   its recorded `processed` status (a copy sent again later: earlierOutcome), the first
 *   recorded status wins (but `processed` replaces a dead letter's `failed: ` rejection) and
 *   the notification log deduplicates by notificationId.
 * - The in-memory cache of trainers is checked by the append's expected version; a refusal or a
 *   decision to change nothing, which append nothing, is decided again on the stored state, and
 *   an append the store recognised as stored before (a copy's events) is answered from it.
 */
export class TrainerCommandHandler {
  private readonly stream: TrainerStream;
  private readonly decider: ReturnType<typeof trainerDecider>;
  private readonly now: () => Date;
  private ready: boolean;
  private readonly cache: TrainerCache<TrainerStreamState> | undefined;
  private eagerPausedUntil = 0;
  /**
   * Ids of the commands whose handling began here, the newest BEGUN_KEPT (an in-process retry
   * comes seconds later). By id: middleware may hand the handler a copy of the envelope.
   */
  private readonly begun = new Set<string>();
  /** Reads of a trainer's recent commands that expired redeliveries share (see recentOf). */
  private readonly recentReads = new Map<
    string,
    { startedAt: number; read: Promise<RecentRead> }
  >();

  constructor(private readonly options: TrainerCommandHandlerOptions) {
    this.decider = trainerDecider({
      speed: options.speed,
      maxGroups: options.maxGroups,
      maxMembers: options.groupLimit?.maxMembers,
    });
    this.stream = new TrainerStream({
      eventStore: options.eventStore,
      snapshots: options.snapshots,
      snapshotEvery: options.snapshotEvery,
      decider: this.decider,
    });
    this.now = options.now ?? (() => new Date());
    const cacheSize = options.cacheSize ?? 10_000;
    this.cache = cacheSize > 0 ? new TrainerCache(cacheSize) : undefined;
    this.ready = options.ready === undefined;
    void options.ready?.then(
      () => (this.ready = true),
      () => undefined,
    );
  }

  async handle(envelope: Envelope): Promise<CommandOutcome> {
    if (!this.ready) throw new DeferredError('the event store is not ready yet');
    this.begun.add(envelope.messageId);
    if (this.begun.size > BEGUN_KEPT) this.begun.delete(this.begun.values().next().value!);
    const command = this.toDomain(envelope);
    // It may change the trainer: a shared read of its stream no longer tells.
    this.recentReads.delete(command.data.trainerId);
    const commandId = envelope.messageId;
    // Read beside the load, awaited before the decision and the append (see earlierOutcome).
    const earlier = this.earlierOutcome(envelope);
    const decided = await this.counted(command);
    let outcome: CommandOutcome;
    let moved: Moved | undefined;
    let membership: MembershipChange | undefined;
    let firstMove: TrainerPosition | undefined;
    try {
      ({ outcome, moved, membership, firstMove } = await retryOnConflict(
        () =>
          this.decideAndAppend(
            trainerStreamId(command.data.trainerId),
            commandId,
            decided,
            envelope,
            earlier,
          ),
        { maxAttempts: 10, ...this.options.conflictRetry },
      ));
    } catch (error) {
      if (!(error instanceof DomainRejection)) throw error;
      outcome = { status: 'rejected', reason: error.cause.message };
    }
    // Before the outcome: once the issuer hears "processed", the read model has the change.
    if (membership) await this.writeThrough('group', (groups) => groups.apply(membership));
    // Its first move creates the trainer: listed from now on (see groupMembers.positions).
    if (firstMove)
      await this.writeThrough('position', (_, positions) => positions?.apply(firstMove));
    await Promise.all([this.record(envelope, outcome), moved && this.notifyEarly(moved)]);
    return outcome;
  }

  /**
   * The command bus refused the command unhandled: its deadline had passed (CommandExpiredError).
   * Records it `rejected` with the expiry as the reason, and tells the issuer, as any rejection.
   * A redelivery expires as well, though its first attempt may have appended the command's
   * events before the instance died: the trainer's stream is read (not the cache, which another
   * instance may have made stale), and a command found there ends `processed` as it was. So is
   * a first delivery whose handling began here (a retry in process), and a command without a
   * recorded status (not sent through command-api). With `countsRedeliveries`, a first delivery
   * never begun, of a command recorded `accepted`, cannot have been applied but by a copy under
   * another envelope (an Idempotency-Key retry; a replayed dead letter is recorded `rejected`):
   * it is not read, so that a backlog that outlived its deadline drains at the speed of status
   * reads, not of stream loads (on FerretDB, seconds each). Hazard: such a copy, applied by an
   * instance that died before recording it and met here first, is recorded expired (the first
   * status wins). The redeliveries of a dead instance's backlog share one read of each trainer's
   * stream while its head stays at the version read (see recentOf: one head read each, not one
   * stream load each, which drained a partition at one command per stream load).
   * @param delivery the delivery's `attempt` (1: first); without it, the stream is read
   * @returns the outcome recorded
   */
  async expired(
    envelope: Envelope,
    error: CommandExpiredError,
    delivery?: { attempt: number },
  ): Promise<CommandOutcome> {
    const command = this.toDomain(envelope);
    const status = await this.options.commandStatus.get(envelope.messageId);
    // Applied longer ago than `recent` reaches: its recorded status says so (see earlierOutcome).
    const earlier = outcomeOf(status);
    if (earlier?.status === 'processed') return earlier;
    // Sent (command-api recorded it accepted), first delivered here, not begun: not applied.
    const untried =
      this.options.countsRedeliveries === true &&
      delivery?.attempt === 1 &&
      !this.begun.has(envelope.messageId) &&
      status?.status === 'accepted';
    if (!untried) {
      const recent = await this.recentOf(
        command.data.trainerId,
        envelope.messageId,
        !this.begun.has(envelope.messageId),
      );
      // Applied before: handle() finds it done, and records and writes through as a redelivery.
      if (recent.some(([id]) => id === envelope.messageId)) return this.handle(envelope);
    }
    const outcome: CommandOutcome = {
      status: 'rejected',
      reason: expiryReason(envelope, error.deadline),
    };
    await this.record(envelope, outcome);
    return outcome;
  }

  /**
   * The trainer's recent command ids, as its stream has them. `shared`: the read may be one
   * another expired redelivery of the trainer started less than RECENT_READ_SHARED_MS ago,
   * while the stream's head (one small read) is still at the version it read. A redelivery's
   * earlier attempt ran on an instance that has died or lost the partition since (an attempt
   * begun here is not `shared`), so its append, if any, came before this delivery was claimed,
   * and before the head read: a shared read without the command, of a stream that grew since
   * (another instance held the trainer meanwhile and appended), is not trusted, and the stream
   * is read again. handle() drops the trainer's shared read, as it may append. Hazard: an
   * instance paused past the lease that appends after waking is not seen by a read started
   * before (its command recorded expired though applied: the first status wins, as for any late
   * copy).
   */
  private async recentOf(trainerId: string, commandId: string, shared: boolean): Promise<Recent> {
    const now = Date.now();
    const streamId = trainerStreamId(trainerId);
    const kept = shared ? this.recentReads.get(trainerId) : undefined;
    if (kept && now - kept.startedAt < RECENT_READ_SHARED_MS) {
      const read = await kept.read;
      if (read.recent.some(([id]) => id === commandId)) return read.recent;
      const head = await this.options.eventStore.streamInfo(streamId);
      if (head.version === read.version) return read.recent;
    }
    const read = this.stream
      .repository(commandId)
      .load(streamId)
      .then((loaded) => ({ recent: loaded.state.recent, version: loaded.version }));
    if (shared) {
      if (this.recentReads.size >= RECENT_READS_KEPT) this.recentReads.clear();
      const entry = { startedAt: now, read };
      this.recentReads.set(trainerId, entry);
      // A failed read is not shared: the next redelivery reads again.
      read.catch(() => {
        if (this.recentReads.get(trainerId) === entry) this.recentReads.delete(trainerId);
      });
    }
    return (await read).recent;
  }

  /**
   * What became of an earlier copy of this command, as its recorded status tells, where that
   * must be the answer again: `processed` (applied, though maybe longer ago than the stream's
   * `recent` command ids reach), or `rejected` as expired; else undefined. One status read
   * (Redis: ~0.2 ms) per command, overlapped with the load, awaited before deciding.
   * - A command id is sent again under a fresh envelope when a client retries a request with its
   *   Idempotency-Key (up to IDEMPOTENCY_TTL_S later), or when an operator replays a dead letter.
   *   By then the trainer may have taken more than RECENT_COMMANDS other commands, and the event
   *   store accepts the copy's events (their ids are checked only on a version conflict): its
   *   status is what tells it was applied.
   * - Should command-api have forgotten a retried request's first time (its idempotency store
   *   lost or evicted the key), a later copy could arrive within a later deadline after the first
   *   one expired. Its issuer was told `rejected`, and that status stays (the first wins): the
   *   copy must not move the trainer.
   * The promise never rejects unobserved: it settles to a thunk that throws a read's failure
   * (the command then fails, and is retried, rather than risk being applied twice).
   */
  private earlierOutcome(envelope: Envelope): Promise<() => CommandOutcome | undefined> {
    return this.options.commandStatus.get(envelope.messageId).then(
      (status) => () => outcomeOf(status),
      (error: unknown) => () => {
        throw error;
      },
    );
  }

  /**
   * The command failed for good (retries spent, or an error no retry can fix): record that —
   * unless it was applied and only its outcome could not be recorded (the status store was
   * down): the trainer's stream (read, not the cache) then says so, and it ends `processed`.
   */
  async deadLettered(envelope: Envelope, error: unknown): Promise<void> {
    const applied = await this.appliedVersion(envelope).catch(() => undefined);
    if (applied !== undefined) {
      await this.record(envelope, { status: 'processed', version: applied });
      return;
    }
    const reason = `${FAILED_REASON_PREFIX}${(error as Error)?.message ?? String(error)}`;
    // A notification of its own: should a replay of the dead letter apply the command, its
    // `processed` (which replaces this status) reaches the issuer too.
    await this.record(envelope, { status: 'rejected', reason }, 'failed');
  }

  /** The stream version a trainer command's events ended at, if its stream has them. */
  private async appliedVersion(envelope: Envelope): Promise<number | undefined> {
    const trainerId = (envelope.data as { trainerId?: unknown } | null | undefined)?.trainerId;
    if (!TRAINER_COMMANDS.some((type) => type === envelope.type) || typeof trainerId !== 'string')
      return undefined;
    const loaded = await this.stream
      .repository(envelope.messageId)
      .load(trainerStreamId(trainerId));
    return loaded.state.recent.find(([id]) => id === envelope.messageId)?.[1];
  }

  private async decideAndAppend(
    streamId: string,
    commandId: string,
    command: TrainerCommand,
    envelope: Envelope,
    earlier: Promise<() => CommandOutcome | undefined>,
  ): Promise<{
    outcome: CommandOutcome;
    moved?: Moved;
    membership?: MembershipChange;
    firstMove?: TrainerPosition;
  }> {
    const repository = this.stream.repository(commandId);
    const cached = this.cache?.get(streamId);
    const loaded = cached ?? (await repository.load(streamId));
    // Kept at once, not only after a save: should this command expire before its append (a load
    // that took seconds, on an event store that was unreachable or is busy), the trainer's next
    // command skips the load. Else a backlog behind a slow store drains at one load per command,
    // each outliving its command's deadline, and nothing is applied again until a restart.
    if (!cached) this.cache?.set(loaded);
    const done = loaded.state.recent.find(([id]) => id === commandId);
    if (done) return this.appliedBefore(streamId, command, done[1]);
    // Not among the recent ones, but applied before, or an earlier copy expired: as it was.
    const before = (await earlier)();
    if (before !== undefined) return { outcome: before };
    let events: TrainerEvent[];
    try {
      events = decideEvents(this.decider, command, loaded.state.trainer);
    } catch (error) {
      if (!(error instanceof PermanentError)) throw error;
      // A refusal, or (below) a decision to change nothing, appends nothing: no expected
      // version checks that the cached state is current (another instance may have appended
      // since). Decided again on the stored state: the cache may cost a load, never an update.
      if (cached) return this.redecide(streamId, commandId, command, envelope, earlier);
      throw new DomainRejection(error);
    }
    if (events.length === 0 && cached)
      return this.redecide(streamId, commandId, command, envelope, earlier);
    const stateAfter = this.stream.stateAfter(loaded, commandId, events);
    const index = events.findIndex((event) => event.type === TRAINER_MOVED_EVENT);
    const audience = index >= 0 ? this.audienceReader(events[index]!, loaded, command) : undefined;
    // The deadline again, right before the write: the bus checked it before the handler ran,
    // but an instance frozen since (a GC pause, a stalled VM) may wake after it, when another
    // instance that took the command over has recorded it expired. Thrown, it is answered as
    // the bus's own check (recorded expired by `expired`); a move is never applied late.
    // Decided on a cached trainer, it is first decided again on the stored one: the cache may
    // be stale and lack this very command, applied by another instance (its status then stays
    // `accepted` for good, the trainer moved; a review, session 35).
    try {
      checkDeadline(envelope, this.now().getTime(), this.options.clockSkewMs);
    } catch (error) {
      if (cached) return this.redecide(streamId, commandId, command, envelope, earlier);
      throw error;
    }
    let saved;
    try {
      saved = await repository.save(loaded, events, {
        stateAfter,
        metadata: {
          causationId: commandId,
          correlationId: envelope.metadata.correlationId ?? commandId,
          ...(envelope.metadata.issuerId !== undefined && { issuerId: envelope.metadata.issuerId }),
        },
      });
    } catch (error) {
      // A conflict (or anything else) means the cached state may be stale: load next time.
      this.cache?.drop(streamId);
      throw error;
    }
    if (saved.positions?.length === 0) {
      // Nothing appended: the store recognised the events' ids, stored before by a copy of this
      // command (another instance that died before recording it). This decision was made on a
      // state older than that (a stale cached trainer, or a copy appending meanwhile), and the
      // state folded from it is not the stored one: cached, the trainer's next commands were
      // decided on it and appended (a trainer walked on from where it no longer was; a review,
      // session 44). The stored trainer tells what became of the command, as on a redelivery.
      this.cache?.drop(streamId);
      const stored = await repository.load(streamId);
      this.cache?.set(stored);
      const applied = stored.state.recent.find(([id]) => id === commandId);
      // Beyond the recent commands (a copy many commands ago): processed, as the store said.
      return this.appliedBefore(streamId, command, applied?.[1] ?? saved.version);
    }
    this.cache?.set(saved);
    const outcome: CommandOutcome = { status: 'processed', version: saved.version };
    // The stream's version before these events, as stored: a stream deleted (soft) and made
    // again loads as empty but goes on after its old versions.
    const versionBefore = saved.version - events.length;
    const membership = membershipOf(events, versionBefore);
    // Its first move creates the trainer (whether or not the eager fast path is on or paused).
    const firstMove =
      index >= 0 && !loaded.state.trainer.exists
        ? positionRow(events[index]!.data as TrainerMovedEvent, versionBefore + index + 1)
        : undefined;
    if (!audience) return { outcome, membership, firstMove };
    return {
      outcome,
      membership,
      firstMove,
      moved: {
        // The id the repository gave the event (TrainerStream: commandEventIds).
        eventId: commandEventId(commandId, index),
        data: events[index]!.data as TrainerMovedEvent,
        version: versionBefore + index + 1,
        // The trainer's move before it, not the stream's version before it: a join or leave in
        // between is never in the log, and waiting for it would hold every move after a group
        // change until projection-worker notifies one (minutes while it is down).
        previous: loaded.state.lastMove ?? versionBefore + index,
        audience,
      },
    };
  }

  /**
   * The outcome of a command whose events the trainer's stream holds already (its last one at
   * `version`): processed, with what a first attempt that died may not have written through.
   */
  private async appliedBefore(
    streamId: string,
    command: TrainerCommand,
    version: number,
  ): Promise<{
    outcome: CommandOutcome;
    membership?: MembershipChange;
    firstMove?: TrainerPosition;
  }> {
    const outcome: CommandOutcome = { status: 'processed', version };
    // The first move, redelivered (the instance may have died before writing it through). A
    // failed read costs the row (projection-worker writes it), never the command.
    if (command.type !== 'ChangeGroup')
      return version === 1
        ? { outcome, firstMove: await this.firstMoveOf(streamId).catch(() => undefined) }
        : { outcome };
    // A group change that produced its event (the last, at `version`) before this redelivery.
    const { trainerId, groupId, action } = command.data;
    return { outcome, membership: { trainerId, groupId, action, version } };
  }

  /** A join, when groups are bounded, with its group's members counted for the decider (groupLimit). */
  private async counted(command: TrainerCommand): Promise<TrainerCommand> {
    const limit = this.options.groupLimit;
    if (!limit || command.type !== 'ChangeGroup' || command.data.action !== 'join') return command;
    const members = await limit.groups.membersOf(command.data.groupId);
    return { ...command, metadata: { ...command.metadata!, members: members.length } };
  }

  /** The row of the trainer's first event (version 1), when the positions are written through. */
  private async firstMoveOf(streamId: string): Promise<TrainerPosition | undefined> {
    if (!this.options.groupMembers?.positions) return undefined;
    const [first] = await this.options.eventStore.readStream(streamId, {
      fromVersion: 1,
      limit: 1,
    });
    if (first?.type !== TRAINER_MOVED_EVENT || first.version !== 1) return undefined;
    return positionRow(first.data as TrainerMovedEvent, 1);
  }

  /** decideAndAppend again, on the stored state: the cached one is dropped first. */
  private redecide(
    ...[streamId, ...rest]: Parameters<TrainerCommandHandler['decideAndAppend']>
  ): ReturnType<TrainerCommandHandler['decideAndAppend']> {
    this.cache?.drop(streamId);
    return this.decideAndAppend(streamId, ...rest);
  }

  /** Applies a change to the read models written through (see groupMembers); never fails. */
  private async writeThrough(
    what: 'group' | 'position',
    apply: (groups: GroupMembers, positions: TrainerPositions | undefined) => unknown,
  ): Promise<void> {
    const target = this.options.groupMembers;
    if (!target) return;
    const timeoutMs = target.timeoutMs ?? 2_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        apply(target.groups, target.positions),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${what} write-through did not answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      target.onError?.(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Step 1 of the fast path (see eagerNotifications); undefined when it is off or paused. */
  /**
   * How the eager notification of a move reads its audience (undefined: the fast path is off or
   * paused). It does not depend on the append: read meanwhile. The move's own groups: a join or
   * leave that stops the trainer first comes after its move. A move for other groups than the
   * trainer's (the decider starts a walk again for those who see it after a join or leave) is
   * read once handle() wrote the change through: the read model has those groups only then.
   */
  private audienceReader(
    event: TrainerEvent,
    loaded: { state: { trainer: { groups: readonly string[] } } },
    command: TrainerCommand,
  ): (() => Promise<Audience | undefined | Error>) | undefined {
    const eager = this.options.eagerNotifications;
    if (!eager || Date.now() < this.eagerPausedUntil) return undefined;
    const groups = (event.data as TrainerMovedEvent).groups ?? loaded.state.trainer.groups;
    const read = () =>
      eager.notifier.audienceOf(command.data.trainerId, groups).catch((error: unknown) => {
        return error instanceof Error ? error : new Error(String(error));
      });
    if (!sameGroups(groups, loaded.state.trainer.groups)) return read;
    const reading = read();
    return () => reading;
  }

  /** Step 2 of a move's `position.update`, after the append; never fails the command. */
  private async notifyEarly(moved: Moved): Promise<void> {
    const eager = this.options.eagerNotifications!;
    try {
      const audience = await moved.audience();
      if (audience instanceof Error) throw audience;
      // undefined: the read model lags the membership; projection-worker notifies it. The log
      // also refuses it while an older move of the trainer is not in it yet (projection-worker
      // is still notifying a backlog): then projection-worker notifies it too, in order.
      if (audience)
        await eager.notifier.notifyEarly(moved.eventId, moved.data, audience, {
          version: moved.version,
          previous: moved.previous,
        });
    } catch (error) {
      this.eagerPausedUntil = Date.now() + (eager.pauseMs ?? 30_000);
      eager.onError?.(error);
    }
  }

  private toDomain(envelope: Envelope): TrainerCommand {
    const accepted = Date.parse(envelope.metadata.timestamp);
    const now = Number.isFinite(accepted) ? accepted : this.now().getTime();
    if (envelope.type === MOVE_TRAINER_COMMAND)
      return { type: 'MoveTrainer', data: envelope.data as MoveTrainerCommand, metadata: { now } };
    if (envelope.type === CHANGE_GROUP_COMMAND)
      return { type: 'ChangeGroup', data: envelope.data as ChangeGroupCommand, metadata: { now } };
    throw new PermanentError(`trainer-service does not handle ${envelope.type}`);
  }

  /**
   * The status and the issuer's `command.result`, written together: each is idempotent (the
   * first status wins, the log deduplicates by notificationId), so if either fails the command
   * is redelivered and both are written again.
   */
  private async record(
    envelope: Envelope,
    outcome: CommandOutcome,
    /** Tells this notification from the command's final one (the log keeps one per id). */
    variant?: 'failed',
  ): Promise<void> {
    const issuerId = envelope.metadata.issuerId ?? '';
    const status = this.options.commandStatus.complete({
      commandId: envelope.messageId,
      type: envelope.type,
      issuerId,
      status: outcome.status,
      completedAt: this.now().toISOString(),
      ...(outcome.reason !== undefined && { reason: outcome.reason }),
      ...(outcome.version !== undefined && { version: outcome.version }),
    });
    if (!issuerId) return status; // nobody to tell
    const result = this.options.notifications.append({
      notificationId: `command-result:${envelope.messageId}${variant ? `:${variant}` : ''}`,
      targetType: 'user',
      targetIds: [issuerId],
      method: 'command.result',
      params: { commandId: envelope.messageId, ...outcome },
      serverId: this.options.serverId,
    });
    await Promise.all([status, result]);
  }
}

/** Whether two sorted lists of group ids are the same. */
function sameGroups(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((groupId, i) => groupId === b[i]);
}

/** The join or leave among a command's events (a group change decides at most one), if any. */
function membershipOf(
  events: readonly TrainerEvent[],
  versionBefore: number,
): MembershipChange | undefined {
  const index = events.findIndex(
    (event) => event.type === TRAINER_JOINED_GROUP_EVENT || event.type === TRAINER_LEFT_GROUP_EVENT,
  );
  if (index < 0) return undefined;
  const event = events[index]!;
  const { trainerId, groupId } = event.data as { trainerId: string; groupId: string };
  return {
    trainerId,
    groupId,
    action: event.type === TRAINER_JOINED_GROUP_EVENT ? 'join' : 'leave',
    version: versionBefore + index + 1,
  };
}

/** A domain refusal inside the retry loop: not a conflict, so retryOnConflict lets it through. */
class DomainRejection extends Error {
  constructor(override readonly cause: PermanentError) {
    super(cause.message);
    this.name = 'DomainRejection';
  }
}

/**
 * The outcome a recorded status makes final: `processed`, or `rejected` — as expired, or by the
 * domain (unknown trainer, group full, …). A later copy of the command id (a keyed retry, a
 * redelivery) gets that answer, never a decision of its own: the first outcome recorded wins,
 * so a copy applied after a rejection left the status saying `rejected` of a trainer it had
 * changed (a review, session 35). Not final: a failure (`failed: `, dead-lettered), which a
 * replay of the dead letter may still apply.
 */
function outcomeOf(
  status: Awaited<ReturnType<CommandStatusStore['get']>>,
): CommandOutcome | undefined {
  if (status?.status === 'processed')
    return {
      status: 'processed',
      ...(status.version !== undefined && { version: status.version }),
    };
  return status?.status === 'rejected' &&
    status.reason !== undefined &&
    !status.reason.startsWith(FAILED_REASON_PREFIX)
    ? { status: 'rejected', reason: status.reason }
    : undefined;
}
