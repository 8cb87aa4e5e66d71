import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import {
  type Caller,
  TokenService,
  type GroupMembers,
  FOLLOW_READ_MAX_MS,
  type LoggedNotification,
  type NotificationLog,
  type TrainerPositions,
} from '@causeway/platform';
import { type GatewaySettings } from '../gateway/gateway.settings';
import { type CloseReason, SseConnection, type SseSink } from './sse.connection';
import { passOver, SseDispatcher } from './sse.dispatch';
import {
  HEARTBEAT_FRAME,
  type HeartbeatKind,
  heartbeatEventFrame,
  idFrame,
  notificationFrame,
  retryFrame,
} from './sse.frames';
import { type SseMetrics } from './sse.metrics';
import { LOG_START, planResume, type ResumePlan } from './sse.resume';
import { WriteGuard } from './sse.write.guard';
import { type StreamView } from './stream.view';
import { visiblePositions } from './visible-positions';

/**
 * The shortest time without a successful read of the notification log after which the hub stops
 * vouching for its streams (the bound is 2 heartbeat intervals, at least this): two of the
 * follower's idle reads (FOLLOW_READ_MAX_MS each), so one slow read is no outage.
 */
export const MIN_LOG_SILENCE_MS = 2 * FOLLOW_READ_MAX_MS;

/**
 * The longest a stream the hub ended may keep unwritten bytes before its socket is destroyed
 * (STALL_TIMEOUT_MS if shorter): see SseConnection.end. Long enough for a reading client on a
 * slow link to take a last frame, short enough that a shutdown is not held up by it.
 */
export const MAX_LINGER_MS = 5_000;

/** How long a disconnect order still ends streams whose checks began before it. */
const DISCONNECT_MEMORY_MS = 60_000;

/** The `disconnected` frame's reason when the user's tokens were revoked. */
export const REVOKED_REASON = 'your sign-in was revoked: sign in again';

/** Told when a stream opens and closes (presence, connection events). Must not throw or block. */
export interface ConnectionListener {
  opened(connection: SseConnection): void;
  closed(connection: SseConnection, reason: CloseReason): void;
}

export interface SseHubOptions {
  serverId: string;
  log: NotificationLog;
  positions: TrainerPositions;
  groups: GroupMembers;
  settings: GatewaySettings;
  metrics?: SseMetrics;
  listeners?: ConnectionListener[];
  logger?: { log(message: string): void; warn(message: string): void };
  /**
   * The `serverTime` of `session` frames (epoch ms): the clock notification ids and command
   * stamps come from (ServerClock over Redis), so that a client can place moving trainers
   * without its own machine's clock. The age of the history a resume replays
   * (HISTORY_TTL_MS) is measured by it too: notification ids are Redis' time. Default: `now`.
   */
  serverTime?: () => number;
  /**
   * Whether `serverTime` can be told (a ServerClock's `synchronised`): until then streams are
   * refused 503 `clock-unsynchronised` rather than told this host's time. Default: always.
   */
  serverTimeReady?: () => boolean;
  now?: () => number;
}

/** How a stream is opened: where it resumes from, and what the request asked of it. */
export interface StreamOpening {
  /** The client's Last-Event-ID: the stream replays what came after it. */
  lastEventId?: string;
  /** When the request's checks began (EventStreamOpener): see `disconnects`. */
  checkedAt?: number;
  /** The request's X-Request-Id (logged with the stream). */
  requestId?: string;
  /** `?heartbeat=`: comments (the default) or `heartbeat` events. */
  heartbeat?: HeartbeatKind;
  /**
   * Told what a resume cost once it is written: the log entries it read (up to
   * HISTORY_SCAN_LIMIT + 1) and whether it read the positions for a recovery — so that the
   * caller can charge the user's rate for it, beyond the one point of the request.
   */
  resumed?: (cost: { entries: number; recovery: boolean }) => void;
  /**
   * What the stream shows of the log, when it is not GET /events (a progress stream): only what
   * the view accepts, in its frames, opened by its `opening` instead of the `session` frame.
   */
  view?: StreamView;
}

export type Admission =
  | { ok: true }
  | { ok: false; status: 503 | 429; reason: string; detail: string; retryAfterSeconds: number };

/**
 * The SSE fan-out of one gateway instance. One follower reads the whole NotificationLog from
 * where it stood at start and writes each entry to the local connections it is addressed to:
 * connections are indexed by user, so a user or group notification costs O(recipients) and a
 * broadcast O(connections); each frame is serialised once per entry, not per connection.
 *
 * Resume (ADR 007): a resuming connection is registered before its replay is read, so live
 * entries queue on it; the replay covers (Last-Event-ID, position at registration] and the queue
 * everything after, so nothing is lost or sent twice. A Last-Event-ID beyond that position but
 * in the log (this follower lags) replays nothing, and the entries up to it are not sent.
 */
export class SseHub {
  private readonly all = new Set<SseConnection>();
  private readonly byUser = new Map<string, Set<SseConnection>>();
  /**
   * Connections by the other trainers their user may move (token claim): group notifications
   * name member trainers, and such a user is a member through them too. Usually empty.
   */
  private readonly byClaim = new Map<string, Set<SseConnection>>();
  /** The id of the last entry dispatched (LOG_START before the first). */
  private position = LOG_START;
  /** Whether the follower started on an empty log, so that it reads the log from its start. */
  private fromStart = false;
  /** The first entry of a log followed from its start: what a resume from LOG_START missed first. */
  private firstId: string | undefined;
  private started = false;
  private stopping = false;
  private readonly abort = new AbortController();
  private following: Promise<void> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  /** `caughtUp` calls waiting for the follower to dispatch up to `id`. */
  private readonly waiting = new Set<{ id: string; done: () => void }>();
  /**
   * Disconnect orders of the last DISCONNECT_MEMORY_MS by user: a stream whose check began
   * before one and that registers after it (its check awaited the rate limiter, the catch-up)
   * is ended at once, as it would have been had it registered a moment sooner.
   */
  private readonly disconnects = new Map<string, { at: number; reason: string }>();
  /** The earliest session end of the connections (Infinity if none): `expire` looks no sooner. */
  private nextSessionEnd = Infinity;
  private readonly now: () => number;
  private readonly settings: GatewaySettings;
  /** When the follower last read the log (entries or none): see `logSilent`. */
  private lastReadAt = 0;
  /**
   * Whether the log has gone unread for longer than `logSilenceMs`: the hub then sends no
   * heartbeat, has ended its streams and refuses new ones, until the follower reads again.
   */
  private cutOff = false;
  /** The bound of `cutOff`: 2 heartbeat intervals, at least MIN_LOG_SILENCE_MS. */
  readonly logSilenceMs: number;
  /** How long an ended stream may keep unwritten bytes: see MAX_LINGER_MS. */
  private readonly lingerMs: number;
  /** How streams end, and what ends one whose write throws. */
  private readonly guard: WriteGuard;
  /** The fan-out of what the follower reads. */
  private readonly dispatcher: SseDispatcher;

  constructor(private readonly options: SseHubOptions) {
    this.now = options.now ?? Date.now;
    this.settings = options.settings;
    this.logSilenceMs = Math.max(2 * this.settings.heartbeatMs, MIN_LOG_SILENCE_MS);
    this.lingerMs = Math.min(this.settings.stallTimeoutMs, MAX_LINGER_MS);
    this.guard = new WriteGuard({
      retryMs: this.settings.retryMs,
      lingerMs: this.lingerMs,
      logger: options.logger,
      release: (connection, reason) => this.release(connection, reason),
    });
    this.dispatcher = new SseDispatcher(
      { all: this.all, byUser: this.byUser, byClaim: this.byClaim },
      {
        log: options.log,
        guard: this.guard,
        metrics: options.metrics,
        logger: options.logger,
      },
    );
  }

  get size(): number {
    return this.all.size;
  }

  get ready(): boolean {
    return this.started && !this.stopping;
  }

  /** Resolves the current end of the log (retrying while the log is unreachable), then follows it. */
  async start(): Promise<void> {
    const { log } = this.options;
    for (let attempt = 1; !this.abort.signal.aborted; attempt++) {
      try {
        // A stop does not wait for this read either: a log whose reads hang (its server stopped
        // answering, a client without a command timeout) held the stop's `await` for ever.
        this.position = (await untilAborted(log.latestId(), this.abort.signal)) ?? LOG_START;
        this.fromStart = this.position === LOG_START;
        break;
      } catch (error) {
        if (this.abort.signal.aborted) return;
        const delay = Math.min(5_000, 100 * 2 ** Math.min(attempt, 6));
        this.options.logger?.warn(
          `notification log unreachable (${(error as Error).message}); retrying in ${delay} ms`,
        );
        // A stop does not wait out the retry delay.
        await sleep(delay, undefined, { signal: this.abort.signal, ref: false }).catch(
          () => undefined,
        );
      }
    }
    if (this.abort.signal.aborted) return;
    this.lastReadAt = this.now();
    this.following = log.follow(
      this.position,
      (entries) => this.dispatch(entries),
      this.abort.signal,
      () => this.read(),
      (through) => this.gap(through),
    );
    this.timers.push(
      setInterval(() => this.heartbeat(), this.settings.heartbeatMs),
      setInterval(
        () => {
          this.checkLog();
          this.expire();
        },
        Math.max(20, Math.min(1_000, this.settings.connectionTimeoutMs / 10)),
      ),
      setInterval(() => this.dropStalled(), Math.max(20, this.settings.stallTimeoutMs / 4)),
    );
    for (const timer of this.timers) timer.unref();
    this.started = true;
  }

  /**
   * Why every stream is refused `not-ready` now, undefined while streams are served: the
   * follower has not started (the log could not be read yet), the hub is stopping, or the log
   * has gone unread for `logSilenceMs`. The gateway's readiness probe (`sse-hub`) reports it, so
   * that a load balancer routing by /health/ready sends no client to an instance that refuses it.
   */
  notReady(): string | undefined {
    if (this.stopping) return 'the gateway is stopping';
    if (!this.started) return 'the gateway has not started following the notification log yet';
    if (this.cutOff)
      return `this instance has not read the notification log for over ${this.logSilenceMs} ms`;
    return undefined;
  }

  /**
   * Whether one more stream for `userId` may open now. Nothing is held: only an `open` in the
   * same synchronous step is sure to fit the limits (opens arriving together all pass otherwise).
   */
  admit(userId: string): Admission {
    const retryAfterSeconds = this.settings.retryAfterSeconds;
    if (!this.ready)
      return {
        ok: false,
        status: 503,
        reason: 'not-ready',
        detail: this.notReady()!,
        retryAfterSeconds,
      };
    if (this.options.serverTimeReady && !this.options.serverTimeReady())
      return {
        ok: false,
        status: 503,
        reason: 'clock-unsynchronised',
        detail: "the gateway has not read the server's clock (Redis TIME) yet",
        retryAfterSeconds,
      };
    const notReady = this.notReady();
    if (notReady)
      return { ok: false, status: 503, reason: 'not-ready', detail: notReady, retryAfterSeconds };
    if (this.all.size >= this.settings.maxConnections)
      return {
        ok: false,
        status: 503,
        reason: 'instance-full',
        detail: `this instance holds its maximum of ${this.settings.maxConnections} connections`,
        retryAfterSeconds,
      };
    if ((this.byUser.get(userId)?.size ?? 0) >= this.settings.maxConnectionsPerUser)
      return {
        ok: false,
        status: 429,
        reason: 'user-limit',
        detail: `at most ${this.settings.maxConnectionsPerUser} connections per user are allowed`,
        retryAfterSeconds,
      };
    return { ok: true };
  }

  /**
   * Opens a stream on a sink whose headers are sent. Registration is synchronous (call `admit`
   * in the same tick); the returned promise settles once the first frames are written.
   */
  async open(caller: Caller, sink: SseSink, opening: StreamOpening = {}): Promise<SseConnection> {
    const { lastEventId, checkedAt } = opening;
    const connection = new SseConnection(
      randomUUID(),
      caller.userId,
      this.now(),
      sink,
      this.settings.bufferMaxBytes,
      caller.trainerIds.filter((id) => id !== caller.userId),
      caller.expiresAt,
      caller.issuedAt,
      opening.requestId,
      opening.heartbeat === 'event',
    );
    connection.view = opening.view;
    const order = checkedAt === undefined ? undefined : this.disconnects.get(caller.userId);
    if (order && checkedAt !== undefined && order.at >= checkedAt) {
      let reason: CloseReason = 'disconnected';
      try {
        // With an id as every frame: a new stream's is where it would have opened.
        connection.end(
          notificationFrame(lastEventId ?? this.position, 'disconnected', { reason: order.reason }),
          this.lingerMs,
        );
      } catch (error) {
        // Destroyed, not left open (this rejected `open` before session 49). Not registered: the
        // count is taken here, not by `release`.
        this.guard.failed(connection, error);
        reason = 'error';
      }
      this.options.metrics?.closed.inc({ reason });
      return connection;
    }
    // Served after the order: the user came back (the page opened a stream anew). Reconnects
    // from now on are this stream's, not the ended ones': not answered 204 (see
    // disconnectedRecently). Kept per instance, as the order is.
    if (order && checkedAt !== undefined && order.at < checkedAt)
      this.disconnects.delete(caller.userId);
    // A view's opening is read after registration, as a replay is: live entries queue meanwhile.
    if (lastEventId !== undefined || opening.view) connection.pending = [];
    // Until the replay is written, the client resumes from where it came from; a new view's,
    // while its opening is read, from where it opens (a frame ending it then carries that id).
    connection.lastId = lastEventId ?? (opening.view ? this.position : undefined);
    this.register(connection);
    // A stream this hub ends is released with its own reason (end() and destroy() mark the
    // connection closed first): a sink that reports 'close' at once must not make it 'client'.
    sink.once('close', () => {
      if (!connection.closed) this.release(connection, 'client');
    });
    for (const listener of this.options.listeners ?? []) listener.opened(connection);
    const upTo = this.position;
    if (opening.view) return this.openView(connection, opening.view, upTo, opening);
    if (lastEventId === undefined) {
      // Guarded as every other write (this rejected `open` before session 49), and a client that
      // cannot take even this frame is dropped now, as a replay's is, not at its next frame.
      let ok: boolean;
      try {
        ok = this.session(connection, upTo, 'new', 0);
      } catch (error) {
        this.guard.failed(connection, error);
        return connection;
      }
      return ok ? connection : this.drop(connection);
    }
    let read = 0;
    let recovery = false;
    /** Which queued entries are written: those after the client's id on a resume `ahead`. */
    let keep: ((id: string) => boolean) | undefined;
    try {
      const plan = await this.planResume(caller, lastEventId, upTo, (entries) => (read += entries));
      if (plan.kind === 'replay') {
        if (connection.closed) return connection;
        let ok = this.session(connection, lastEventId, 'replayed', plan.entries.length);
        for (const entry of plan.entries) ok = this.writeEntry(connection, entry) && ok;
        if (!ok) return this.drop(connection);
      } else if (plan.kind === 'ahead') {
        // The log holds the client's id, this instance has not dispatched it yet (its follower
        // lags by more than caughtUp waited: clients of a dead instance failing over to a
        // loaded one). The client has everything up to it: an empty replay from its id, and
        // what this instance dispatches up to it (queued already, or to come) is not sent
        // again. Not a recovery from `upTo`: that resent all of (upTo, id] after the recovery
        // frame. Not a 503 either: the client would only come back, with every other client
        // of the dead instance, to an instance no less busy.
        if (connection.closed) return connection;
        connection.skipThrough = lastEventId;
        keep = (id) => this.options.log.compare(id, lastEventId) > 0;
        if (!this.session(connection, lastEventId, 'replayed', 0)) return this.drop(connection);
      } else {
        recovery = true;
        const positions = await visiblePositions(
          caller,
          this.options.positions,
          this.options.groups,
          this.options.log,
          (this.options.serverTime ?? this.now)() - this.settings.positionsMaxAgeMs,
        );
        if (connection.closed) return connection;
        // The session frame repeats the client's id; only the recovery frame, the state as of
        // `upTo`, moves it there. A stream cut between the two (a network drop, a slow-client
        // drop: the recovery frame can hold megabytes) resumes from the old id and is offered
        // the recovery again, instead of an empty replay from `upTo` (session 36).
        if (!this.session(connection, lastEventId, 'recovery', 0)) return this.drop(connection);
        // Beyond BUFFER_MAX_BYTES if it must (SseConnection.writeOnce): it holds every recent
        // position the user may see, and a slow link would be dropped at the next frame, then
        // recovered again, for ever. STALL_TIMEOUT_MS still bounds how long it may take.
        const state = notificationFrame(upTo, 'recovery', { reason: plan.reason, positions });
        if (!connection.writeOnce(state, upTo)) return this.drop(connection);
      }
    } catch (error) {
      this.options.logger?.warn(`resume of ${connection.id} failed: ${(error as Error).message}`);
      // The client's own id again: it resumes from there.
      this.guard.close(connection, 'error', retryFrame(this.settings.retryMs, connection.lastId));
      return connection;
    } finally {
      // Whatever became of the stream (a client that went away at once included).
      opening.resumed?.({ entries: read, recovery });
    }
    return this.goLive(connection, keep);
  }

  /**
   * planResume for `who` from `lastEventId` up to `upTo`, on this hub's log, settings and clock;
   * `onRead` is told what each page read (what the resume cost), `accepts` is a view's.
   */
  private planResume(
    who: { readonly userId: string; readonly trainerIds: readonly string[] },
    lastEventId: string,
    upTo: string,
    onRead: (entries: number) => void,
    accepts?: StreamView['accepts'],
  ): Promise<ResumePlan> {
    return planResume({
      onRead,
      log: this.options.log,
      userId: who.userId,
      trainerIds: who.trainerIds,
      lastEventId,
      upTo,
      historySize: this.settings.historySize,
      historyScanLimit: this.settings.historyScanLimit,
      historyTtlMs: this.settings.historyTtlMs,
      // The ids' clock (Redis'), not this host's: a gateway ahead by more than the TTL would
      // answer every resume `expired` (session 30).
      now: (this.options.serverTime ?? this.now)(),
      firstId: this.firstId,
      accepts,
    });
  }

  /**
   * `open` for a stream with a view (ADR 015): the view's opening (as of the client's id on a
   * replay, else of `upTo`), then the missed entries the view accepts, then what queued. A gap
   * that cannot be replayed needs nothing more than the opening: it is the current state.
   */
  private async openView(
    connection: SseConnection,
    view: StreamView,
    upTo: string,
    opening: StreamOpening,
  ): Promise<SseConnection> {
    const { lastEventId } = opening;
    let read = 0;
    let keep: ((id: string) => boolean) | undefined;
    try {
      const plan =
        lastEventId === undefined
          ? undefined
          : await this.planResume(
              connection,
              lastEventId,
              upTo,
              (entries) => (read += entries),
              view.accepts,
            );
      const replayed = plan?.kind === 'replay' || plan?.kind === 'ahead';
      const from = replayed ? lastEventId! : upTo;
      const frames = await view.opening(from, this.settings.retryMs, replayed);
      if (connection.closed) return connection;
      // A state opened with is not told again by what queued meanwhile (StreamView.covers).
      if (!replayed && view.covers) coverQueued(connection, view);
      this.options.metrics?.resumes.inc({
        outcome: plan === undefined ? 'new' : replayed ? 'replayed' : 'recovery',
      });
      if (plan?.kind === 'ahead') {
        connection.skipThrough = lastEventId;
        keep = (id) => this.options.log.compare(id, lastEventId!) > 0;
      }
      let ok = connection.writeOnce(frames, from);
      if (plan?.kind === 'replay')
        for (const entry of plan.entries) ok = this.writeEntry(connection, entry) && ok;
      if (!ok) return this.drop(connection);
    } catch (error) {
      this.options.logger?.warn(`opening of ${connection.id} failed: ${(error as Error).message}`);
      this.guard.close(connection, 'error', retryFrame(this.settings.retryMs, connection.lastId));
      return connection;
    } finally {
      opening.resumed?.({ entries: read, recovery: false });
    }
    return this.goLive(connection, keep);
  }

  /**
   * Writes what queued during a (re)connect's first frames, then, if the client's resume point
   * (resumePoint) is further on than the last frame written, an id-only frame with it. A replay's
   * frames carry the ids of the client's own entries only: without it the client kept an id
   * before the entries for others at the end of the gap (all of the gap when none was its own)
   * until the next heartbeat, and a reconnect within that window read the gap again: a
   * `scan-limit` or `trimmed` recovery once the log had gone on, though it missed nothing.
   * A client that cannot keep up is dropped; a write that throws ends the stream (WriteGuard.
   * failed): run after `open`'s and `openView`'s `try`, it rejected `open` before session 49.
   */
  private goLive(connection: SseConnection, keep?: (id: string) => boolean): SseConnection {
    let ok: boolean;
    try {
      ok = connection.flushPending(keep);
      if (ok) {
        const before = connection.lastId;
        const id = this.resumePoint(connection);
        if (id !== before && id !== undefined) ok = connection.write(idFrame(id));
      }
    } catch (error) {
      this.guard.failed(connection, error);
      return connection;
    }
    return ok ? connection : this.drop(connection);
  }

  /**
   * Graceful shutdown: every client gets a jittered `retry:` hint and a `shutdown` notification,
   * then its stream ends (it reconnects elsewhere with its last id); the follower stops.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const waiter of this.waiting) waiter.done();
    this.abort.abort();
    const base = this.settings.retryMs;
    for (const connection of [...this.all]) {
      // The id the client resumes from: see resumePoint (a queued replay tail is not sent).
      const frame =
        retryFrame(base + Math.random() * base) +
        notificationFrame(this.resumePoint(connection), 'shutdown', {
          serverId: this.options.serverId,
        });
      this.guard.close(connection, 'shutdown', frame);
    }
    await this.following;
  }

  /**
   * Resolves once the follower has dispatched every entry the log held when called (at most
   * `timeoutMs` later; at once if the log cannot be read). Awaited before admitting a resume:
   * the replay then covers everything appended before the client asked. Past the wait, an id
   * the client saw on a faster instance is still no unknown position (planResume: `ahead`).
   */
  async caughtUp(timeoutMs = 1_000): Promise<void> {
    const { log } = this.options;
    const latest = await log.latestId().catch(() => undefined);
    if (latest === undefined || !this.ready || log.compare(latest, this.position) <= 0) return;
    await new Promise<void>((resolve) => {
      const waiter = {
        id: latest,
        done: () => {
          clearTimeout(timer);
          this.waiting.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.done, timeoutMs);
      timer.unref();
      this.waiting.add(waiter);
    });
  }

  /**
   * Whether an operator disconnected `userId` in the last DISCONNECT_MEMORY_MS (on any instance:
   * orders reach every one). An EventSource then reconnecting by itself is answered 204.
   */
  disconnectedRecently(userId: string): boolean {
    const order = this.disconnects.get(userId);
    return order !== undefined && order.at >= this.now() - DISCONNECT_MEMORY_MS;
  }

  /**
   * Ends every stream of `userId` on this instance (an operator's DisconnectOrder): each gets a
   * `disconnected` frame, repeating its last id, saying why. Returns how many there were.
   */
  disconnect(userId: string, reason: string): number {
    this.disconnects.set(userId, { at: this.now(), reason });
    const streams = [...(this.byUser.get(userId) ?? [])];
    for (const connection of streams)
      this.guard.close(
        connection,
        'disconnected',
        notificationFrame(this.resumePoint(connection), 'disconnected', { reason }),
      );
    return streams.length;
  }

  /**
   * Ends the streams of `userId` whose credential the revocation `cut` revokes
   * (TokenService.revokedBy), with a `disconnected` frame saying `reason` (the revoker's, else a
   * default): whoever revoked, and whether or not a disconnect order reaches this instance.
   * Returns how many there were.
   */
  revoked(userId: string, cut: number, reason = REVOKED_REASON): number {
    const streams = [...(this.byUser.get(userId) ?? [])].filter((connection) =>
      TokenService.revokedBy(connection.issuedAt, cut),
    );
    for (const connection of streams)
      this.guard.close(
        connection,
        'revoked',
        notificationFrame(this.resumePoint(connection), 'disconnected', { reason }),
      );
    return streams.length;
  }

  /** Connections per user on this instance (for tests and presence). */
  connectionsOf(userId: string): readonly SseConnection[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  connections(): IterableIterator<SseConnection> {
    return this.all.values();
  }

  /**
   * What the follower read, to its streams (SseDispatcher.dispatch); the position then moves
   * through it in the same synchronous step (see resumePoint), and the streams that could not
   * keep up are dropped.
   */
  private dispatch(entries: LoggedNotification[]): void {
    if (this.fromStart) this.firstId ??= entries[0]?.id;
    const slow = this.dispatcher.dispatch(entries);
    const last = entries.at(-1);
    if (last) this.position = last.id;
    for (const connection of slow) this.drop(connection);
    for (const waiter of this.waiting)
      if (this.options.log.compare(waiter.id, this.position) <= 0) waiter.done();
  }

  private session(
    connection: SseConnection,
    id: string,
    resumed: 'new' | 'replayed' | 'recovery',
    replayed: number,
  ): boolean {
    this.options.metrics?.resumes.inc({ outcome: resumed });
    return connection.write(
      notificationFrame(
        id,
        'session',
        // serverTime: the server's epoch ms, so a client can tell where a moving trainer is
        // (startedAt + speed × elapsed) without trusting its own machine's clock.
        {
          connectionId: connection.id,
          serverId: this.options.serverId,
          resumed,
          replayed,
          serverTime: (this.options.serverTime ?? this.now)(),
          // How often the stream carries a heartbeat at least: a client that hears nothing for
          // a few of these (`?heartbeat=event` makes them visible to EventSource) reconnects.
          heartbeatMs: this.settings.heartbeatMs,
        },
        this.settings.retryMs,
      ),
      id,
    );
  }

  /**
   * Writes a replayed entry. One whose frame cannot be built is passed over, as `dispatch` passed
   * it over live: failing the resume made its client come back to the same failure, for ever.
   */
  private writeEntry(connection: SseConnection, entry: LoggedNotification): boolean {
    let frame: string;
    try {
      frame = connection.view
        ? connection.view.frame(entry.id, entry.notification)
        : notificationFrame(entry.id, entry.notification.method, entry.notification.params);
    } catch (error) {
      passOver(this.options.logger, entry, error);
      return true;
    }
    this.options.metrics?.frames.inc();
    return connection.write(frame, entry.id);
  }

  /** The follower read the log (entries or none). */
  private read(): void {
    this.lastReadAt = this.now();
    if (!this.cutOff) return;
    this.cutOff = false;
    this.options.logger?.log('notification log read again: streams are accepted again');
  }

  /**
   * Once the follower has not read the log for `logSilenceMs` (Redis unreachable, or the path to
   * it stalled so that its XREAD hangs), the streams get nothing live and heartbeats would only
   * hide that: each ends with a jittered `retry:` hint (its client resumes with its last id,
   * behind a load balancer on an instance that can read), and `admit` refuses new ones (503
   * `not-ready`, Retry-After) until the next read. ADR 007, session 30 addendum.
   */
  private checkLog(): void {
    if (this.cutOff || this.stopping || this.now() - this.lastReadAt <= this.logSilenceMs) return;
    this.cutOff = true;
    this.options.logger?.warn(
      `notification log not read for over ${this.logSilenceMs} ms: ending ${this.all.size} streams, refusing new ones`,
    );
    const base = this.settings.retryMs;
    for (const connection of [...this.all])
      this.guard.close(
        connection,
        'log-unreachable',
        retryFrame(base + Math.random() * base, this.resumePoint(connection)),
      );
  }

  /**
   * The trimming took entries this instance's follower had not read yet (it lagged the log by
   * more than the log's retention): its streams missed them, unknowing. Each ends with a
   * jittered `retry:` hint, as when the log is unreadable, and its client resumes with its last
   * id, on any instance: the resume tells it the current state (`recovery`, `trimmed`).
   */
  private gap(through: string): void {
    if (this.stopping) return;
    this.options.logger?.warn(
      `notification log trimmed entries this instance had not read (through ${through}): ending ${this.all.size} streams, their clients resume`,
    );
    const base = this.settings.retryMs;
    for (const connection of [...this.all])
      this.guard.close(
        connection,
        'log-gap',
        retryFrame(base + Math.random() * base, this.resumePoint(connection)),
      );
  }

  /**
   * A heartbeat also moves the client's resume point on (resumePoint): a comment stream whose
   * point moved gets an id-only frame instead of the comment, a `?heartbeat=event` stream the
   * point as its heartbeat's id. Without it a client that receives nothing kept its last
   * frame's id while the log went on, and its routine reconnect (the connection timeout, a
   * shutdown, a blip) read the whole gap: `scan-limit` on a busy system, `trimmed` once the
   * log's bounds passed the id — a recovery though it missed nothing (session 36).
   */
  private heartbeat(): void {
    // A heartbeat vouches for a live stream: none while the log is not read.
    this.checkLog();
    if (this.cutOff) return;
    const slow: SseConnection[] = [];
    let serverTime: number | undefined;
    for (const connection of this.all) {
      if (connection.pending) continue;
      const before = connection.lastId;
      const id = this.resumePoint(connection);
      let frame = id === before || id === undefined ? HEARTBEAT_FRAME : idFrame(id);
      if (connection.heartbeatEvents) {
        serverTime ??= (this.options.serverTime ?? this.now)();
        frame = heartbeatEventFrame(id, serverTime);
      }
      let ok: boolean;
      try {
        ok = connection.write(frame);
      } catch (error) {
        this.guard.failed(connection, error);
        continue;
      }
      if (!ok) slow.push(connection);
    }
    for (const connection of slow) this.drop(connection);
  }

  /**
   * Where `connection`'s client may resume from, once the frame this returns the id for is
   * written: its last frame's id, moved on to the hub's position (the last entry dispatched)
   * if that is further. Safe because every entry up to the position that is addressed to a
   * live connection is in its socket's buffer already, ahead of the frame: `dispatch` writes
   * (or batches, then writes) each entry in the same synchronous step that moves the
   * position; a resume registers (and queues what is dispatched) in the step that reads the
   * position it replays or recovers to, and goes live (`pending` undefined) only once the
   * replay and the queue are written. A connection still replaying keeps its id (its queue
   * is not written yet), and a resume `ahead` of this hub (an id past its position) is never
   * moved back: the point only moves forward. Callers write the id, so lastId records it.
   */
  private resumePoint(connection: SseConnection): string | undefined {
    const last = connection.lastId;
    if (connection.pending || last === undefined) return last;
    if (this.options.log.compare(this.position, last) > 0) connection.lastId = this.position;
    return connection.lastId;
  }

  /**
   * Drops the connections whose unwritten bytes have not emptied for STALL_TIMEOUT_MS. Without
   * it a client that stopped reading holds up to the kernel's send buffer plus BUFFER_MAX_BYTES
   * until its timeout, and is never counted as slow if its traffic fits the kernel's buffer.
   */
  private dropStalled(): void {
    const now = this.now();
    const stalled: SseConnection[] = [];
    for (const connection of this.all)
      if (connection.stalled(now, this.settings.stallTimeoutMs)) stalled.push(connection);
    for (const connection of stalled) this.drop(connection);
  }

  /**
   * Ends the streams past their connection timeout, then those whose session ended. Connections
   * are kept in opening order, so the timed-out ones are a prefix of the set; sessions end in
   * any order, so they are looked for only once the earliest end has passed.
   */
  private expire(): void {
    const now = this.now();
    for (const [userId, order] of this.disconnects)
      if (order.at < now - DISCONNECT_MEMORY_MS) this.disconnects.delete(userId);
    const deadline = now - this.settings.connectionTimeoutMs;
    for (const connection of this.all) {
      if (connection.openedAt > deadline) break;
      // The client reconnects by itself, with the id this frame gives it: see resumePoint.
      this.guard.close(
        connection,
        'timeout',
        retryFrame(this.settings.retryMs, this.resumePoint(connection)),
      );
    }
    if (now < this.nextSessionEnd) return;
    const ended: SseConnection[] = [];
    let next = Infinity;
    for (const connection of this.all) {
      const end = connection.expiresAt;
      if (end === undefined) continue;
      if (end <= now) ended.push(connection);
      else if (end < next) next = end;
    }
    this.nextSessionEnd = next;
    // The client renews its credential and resumes from the id the frame repeats: its
    // reconnect with the same one would be refused (401, reason `expired`).
    for (const connection of ended)
      this.guard.close(
        connection,
        'expired',
        notificationFrame(this.resumePoint(connection), 'expired', {
          expiredAt: connection.expiresAt,
        }),
      );
  }

  /**
   * Drops a stream that cannot keep up. Nothing thrown leaves it (session 49): a throw kept a
   * dispatch's other slow streams and its `caughtUp` waiters, was uncaught in a timer (heartbeat,
   * dropStalled), and rejected `open`. A stream whose destroy throws is destroyed again and
   * released as an `error` (WriteGuard.failed), not kept registered and counted by the limits.
   */
  private drop(connection: SseConnection): SseConnection {
    if (!this.all.has(connection)) return connection;
    this.options.metrics?.slowDropped.inc();
    try {
      connection.destroy();
    } catch (error) {
      this.guard.failed(connection, error);
      return connection;
    }
    this.release(connection, 'slow');
    return connection;
  }

  private register(connection: SseConnection): void {
    this.all.add(connection);
    if (connection.expiresAt !== undefined && connection.expiresAt < this.nextSessionEnd)
      this.nextSessionEnd = connection.expiresAt;
    let mine = this.byUser.get(connection.userId);
    if (!mine) this.byUser.set(connection.userId, (mine = new Set()));
    mine.add(connection);
    for (const trainerId of connection.trainerIds) {
      let claimed = this.byClaim.get(trainerId);
      if (!claimed) this.byClaim.set(trainerId, (claimed = new Set()));
      claimed.add(connection);
    }
    this.options.metrics?.connections.inc();
  }

  private release(connection: SseConnection, reason: CloseReason): void {
    if (!this.all.delete(connection)) return;
    connection.closed = true;
    const mine = this.byUser.get(connection.userId);
    mine?.delete(connection);
    if (mine?.size === 0) this.byUser.delete(connection.userId);
    for (const trainerId of connection.trainerIds) {
      const claimed = this.byClaim.get(trainerId);
      claimed?.delete(connection);
      if (claimed?.size === 0) this.byClaim.delete(trainerId);
    }
    this.options.metrics?.connections.dec();
    this.options.metrics?.closed.inc({ reason });
    for (const listener of this.options.listeners ?? []) listener.closed(connection, reason);
  }
}

/**
 * `promise`, or undefined as soon as `signal` aborts (`promise` may then never settle; a
 * rejection after that is ignored).
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

/**
 * Turns each entry queued on `connection` whose state its opening told already
 * (StreamView.covers, asked in log order) into an id-only frame: the event is not told again,
 * and the client's resume point still moves past it. Dropped instead, the client kept the
 * opening's id until the next heartbeat, and its reconnect within that window replayed the
 * event it had shown (a second COMPLETED: ADR 015, session 47). SseDispatcher does the same
 * for what comes live.
 */
function coverQueued(connection: SseConnection, view: StreamView): void {
  for (const queued of connection.pending ?? [])
    if (queued.notification && view.covers!(queued.notification)) {
      queued.frames = idFrame(queued.id);
      queued.notification = undefined;
    }
}
