import { isAddressedTo, type Notification } from '@causeway/contracts';
import { type LoggedNotification, type NotificationLog } from '@causeway/platform';
import { type SseConnection } from './sse.connection';
import { idFrame, notificationFrame } from './sse.frames';
import { type SseMetrics } from './sse.metrics';
import { messageOf, type WriteGuard } from './sse.write.guard';
import { type StreamView } from './stream.view';

/** The hub's connections, as it indexes them (SseHub owns and changes them). */
export interface ConnectionIndex {
  readonly all: ReadonlySet<SseConnection>;
  readonly byUser: ReadonlyMap<string, ReadonlySet<SseConnection>>;
  /**
   * Connections by the other trainers their user may move (token claim): group notifications
   * name member trainers, and such a user is a member through them too. Usually empty.
   */
  readonly byClaim: ReadonlyMap<string, ReadonlySet<SseConnection>>;
}

export interface SseDispatcherOptions {
  log: Pick<NotificationLog, 'compare'>;
  guard: WriteGuard;
  metrics?: SseMetrics;
  logger?: { warn(message: string): void };
}

/**
 * The fan-out of what the hub's follower reads to the local connections it is addressed to:
 * connections are indexed by user, so a user or group notification costs O(recipients) and a
 * broadcast O(connections); each frame is serialised once per entry, not per connection.
 */
export class SseDispatcher {
  constructor(
    private readonly connections: ConnectionIndex,
    private readonly options: SseDispatcherOptions,
  ) {}

  /**
   * Sends what the follower read. Entries read together go to each connection as one write (a
   * write is a syscall: under load the log is read in larger batches, so the writes per frame
   * fall as the rate grows). Each frame is encoded (UTF-8) once for all its streams: written as
   * bytes, a socket counts them as BUFFER_MAX_BYTES does (SseSink.write). Returns the
   * connections that could not keep up (the hub drops them).
   *
   * Nothing thrown ends it (session 48): before, one throw left the rest of the batch unsent
   * (the follower passes a failed batch over), the position short of it and `caughtUp` waiting.
   * An entry whose frame cannot be built (a payload without JSON: the embedded log keeps
   * objects; a view's `frame` that throws) is passed over, as a replay passes it over
   * (SseHub.writeEntry): told again, it would fail again. A stream whose write throws is ended
   * with a retry hint at its last id (WriteGuard.failed): its client resumes, and the replay
   * sends what it missed.
   */
  dispatch(entries: LoggedNotification[]): SseConnection[] {
    const slow: SseConnection[] = [];
    let sent = 0;
    const batch =
      entries.length > 1 ? new Map<SseConnection, { chunks: Buffer[]; id: string }>() : undefined;
    for (const entry of entries) {
      try {
        sent += this.dispatchEntry(entry, batch, slow);
      } catch (error) {
        // Who it is for could not be told (recipients): the streams it reached keep it.
        passOver(this.options.logger, entry, error);
      }
    }
    if (batch)
      for (const [connection, { chunks, id }] of batch)
        if (!this.send(connection, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), id))
          slow.push(connection);
    if (sent > 0) this.options.metrics?.frames.inc(sent);
    return slow;
  }

  /**
   * `dispatch` of one entry: sends it to (or batches it for) its recipients. Returns how many
   * frames it told (id-only frames not counted).
   */
  private dispatchEntry(
    entry: LoggedNotification,
    batch: Map<SseConnection, { chunks: Buffer[]; id: string }> | undefined,
    slow: SseConnection[],
  ): number {
    const frames: EntryFrames = {};
    /** What a frame of the entry could not be built for (its first such recipient's). */
    let failure: { error: unknown } | undefined;
    let sent = 0;
    for (const connection of this.recipients(entry.notification)) {
      let frame: Buffer | undefined;
      try {
        frame = this.liveFrame(connection, entry, frames);
      } catch (error) {
        failure ??= { error };
        continue;
      }
      if (frame === undefined) continue;
      // A connection still writing its replay queues entry by entry: what it queued can be
      // told apart by id (SseHub.open, a resume `ahead`).
      if (batch && !connection.pending) {
        const pending = batch.get(connection);
        if (pending) {
          pending.chunks.push(frame);
          pending.id = entry.id;
        } else batch.set(connection, { chunks: [frame], id: entry.id });
      } else if (!this.send(connection, frame, entry.id, entry.notification)) slow.push(connection);
      if (frame !== frames.idOnly) sent += 1;
    }
    if (failure) passOver(this.options.logger, entry, failure.error);
    return sent;
  }

  /**
   * The frame of `entry` for `connection`, undefined if it takes none (its view does not show
   * it, or the client had it from another instance). Serialised once per entry for all streams
   * that take the same frame (`frames`). Throws if the frame cannot be built.
   */
  private liveFrame(
    connection: SseConnection,
    entry: LoggedNotification,
    frames: EntryFrames,
  ): Buffer | undefined {
    const view = connection.view;
    if (view && !view.accepts(entry.notification)) return undefined;
    if (connection.skipThrough !== undefined && this.sentElsewhere(connection, entry.id))
      return undefined;
    // A pending connection's view is asked by coverQueued (SseHub): its opening is not read yet.
    if (view?.covers && !connection.pending && view.covers(entry.notification))
      // Not told again, but the client's resume point moves past it: see coverQueued.
      return (frames.idOnly ??= Buffer.from(idFrame(entry.id)));
    if (view) {
      frames.viewed ??= new Map();
      const frame =
        frames.viewed.get(view.frame) ?? Buffer.from(view.frame(entry.id, entry.notification));
      frames.viewed.set(view.frame, frame);
      return frame;
    }
    return (frames.plain ??= Buffer.from(
      notificationFrame(entry.id, entry.notification.method, entry.notification.params),
    ));
  }

  /** `connection.send`; a stream whose write throws is ended (WriteGuard.failed). False: slow. */
  private send(
    connection: SseConnection,
    frames: Buffer,
    id: string,
    notification?: Notification,
  ): boolean {
    try {
      return connection.send(frames, id, notification);
    } catch (error) {
      this.options.guard.failed(connection, error);
      return true;
    }
  }

  /**
   * Whether the entry `id` is one a resume `ahead` of this instance had already (up to the
   * connection's `skipThrough`); past it, the connection takes everything again.
   */
  private sentElsewhere(connection: SseConnection, id: string): boolean {
    if (this.options.log.compare(id, connection.skipThrough!) <= 0) return true;
    connection.skipThrough = undefined;
    return false;
  }

  private *recipients(notification: Notification): Iterable<SseConnection> {
    const { all, byUser, byClaim } = this.connections;
    if (notification.targetType === 'broadcast') {
      yield* all;
      return;
    }
    const users =
      notification.targetType === 'user' ? notification.targetIds : (notification.recipients ?? []);
    // A connection is in one byUser set only; one reached through a claimed trainer too may be
    // reached twice (its own trainer and a claimed one, or two claimed ones): dedupe then.
    const claims = notification.targetType === 'group' && byClaim.size > 0;
    const seen = claims ? new Set<SseConnection>() : undefined;
    for (const userId of users.length > 1 ? new Set(users) : users) {
      const connections = byUser.get(userId);
      if (connections && isAddressedTo(notification, userId))
        for (const connection of connections) if (!seen || once(seen, connection)) yield connection;
      const claimed = claims ? byClaim.get(userId) : undefined;
      if (claimed) for (const connection of claimed) if (once(seen!, connection)) yield connection;
    }
  }
}

/**
 * An entry no frame could be built for: its streams go on without it (see
 * SseDispatcher.dispatch; a replay passes it over too).
 */
export function passOver(
  logger: { warn(message: string): void } | undefined,
  entry: LoggedNotification,
  error: unknown,
): void {
  logger?.warn(
    `notification ${entry.id} (${entry.notification.method}) could not be sent (${messageOf(error)}): passed over, its streams go on with the ones after it`,
  );
}

/** Adds `connection` to `seen`; true if it was not there yet. */
function once(seen: Set<SseConnection>, connection: SseConnection): boolean {
  if (seen.has(connection)) return false;
  seen.add(connection);
  return true;
}

/** An entry's frames, each built once for all the streams that take it (SseDispatcher.dispatch). */
interface EntryFrames {
  plain?: Buffer;
  /** Per view `frame` function. */
  viewed?: Map<StreamView['frame'], Buffer>;
  /** The entry's id alone, for the streams whose opening told its state already. */
  idOnly?: Buffer;
}
