import { type CloseReason, type SseConnection } from '../sse/sse.connection';
import { type ConnectionListener } from '../sse/sse.hub';
import {
  type InstancePresence,
  type PresenceEntry,
  type PresenceRegistry,
} from './presence-registry.port';

/**
 * How long `stop` waits for the registry by default: with the connection events' flush after it
 * (3 s), well within the app's SHUTDOWN_TIMEOUT_MS (default 10 s).
 */
export const DEFAULT_STOP_WAIT_MS = 3_000;

/**
 * Keeps this instance's presence entries: one per open connection, plus the instance
 * heartbeat (every third of the TTL). The registry is made to hold exactly the local
 * connections (`replace`) at the first beat, when the registry says the instance had expired (a
 * long pause, Redis restarted) and after an add or remove failed (Redis unreachable): entries
 * left by a predecessor with the same serverId (a restart before its presence expired) and
 * streams closed while Redis was away do not stay listed. Entries dropped that way that were
 * not closed here are handed to `onExpired`, so their connections are reported closed. Open
 * connections it writes back that a sweep had taken (this instance paused past the TTL, and it
 * or another reported them closed, `instance-expired`) are handed to `onRestored`, so they are
 * reported open again (those still open once it landed, none while stopping): their real close
 * later is then not a second Closed after the first.
 *
 * A stream's close is handed to `onClosed` (to report it closed) once its entry is removed,
 * unless a sweep had taken that entry and reported it closed already (the registry's `remove`
 * says so, or the write-back returned it as swept after it closed) — while stopping too: `stop`
 * waits for those removals, so every Closed is handed over before it resolves. That wait is
 * bounded (`stop`'s `waitMs`): a registry that does not answer (Redis unreachable, commands
 * queued) must not hold the shutdown until its timeout kills the process before the events are
 * flushed; the closes still unanswered then are handed over at once, as a failed removal's are.
 *
 * Each beat first sweeps the entries of expired instances (killed gateways, this one's own
 * before a restart included) and hands the ones this instance removed to `onExpired`: the
 * registry gives each to one sweeper only, so their connections are reported closed once.
 */
export class PresenceTracker implements ConnectionListener {
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Whether the registry may not hold exactly the local connections (see `replace`). */
  private resync = true;
  /** Closed here (so reported closed already), removal under way or failed. */
  private readonly removing = new Set<string>();
  private readonly unremoved = new Set<string>();
  /**
   * Streams a sweep reported closed that closed while the write-back was under way (its answer
   * listed them as swept): their own close is not reported again.
   */
  private readonly reportedClosed = new Set<string>();
  /**
   * The resync under way: adds and removes wait for it. Sent after it, they could land before
   * it (a Redis script sent again after NOSCRIPT goes out one round trip late, and a resync
   * follows a Redis restart, whose script cache is empty): a stream closed meanwhile was
   * written back for good, one opened meanwhile dropped and reported closed (session 35).
   */
  private replacing: Promise<unknown> | undefined;
  /**
   * Closes whose removal (and so whether they are reported) is under way, each with what hands
   * it to `onClosed` (once): `stop` awaits them, and hands over the ones still unanswered at its
   * bound.
   */
  private readonly reporting = new Map<Promise<void>, () => void>();
  /** The instance's removal, once sent. */
  private removal: Promise<void> | undefined;

  constructor(
    private readonly registry: PresenceRegistry,
    private readonly serverId: string,
    private readonly local: () => Iterable<SseConnection>,
    private readonly onError: (message: string) => void,
    private readonly onExpired: (instance: InstancePresence) => void = () => undefined,
    private readonly onRestored: (entries: PresenceEntry[]) => void = () => undefined,
    private readonly onClosed: (connection: SseConnection, reason: CloseReason) => void = () =>
      undefined,
  ) {}

  start(): void {
    void this.beat();
    this.timer = setInterval(() => void this.beat(), Math.max(10, this.registry.ttlMs / 3));
    this.timer.unref();
  }

  opened(connection: SseConnection): void {
    const added = entry(connection);
    this.afterReplace(() => this.registry.add(this.serverId, added)).catch((error: Error) => {
      this.resync = true;
      this.onError(`presence add failed: ${error.message}`);
    });
  }

  closed(connection: SseConnection, reason: CloseReason): void {
    // While stopping too: a stream a sweep reported closed (`instance-expired`) before this
    // instance wrote it back must not be reported closed again (`shutdown`), and only its
    // removal tells. `stop` waits for it, so the Closed is queued before the shutdown flushes.
    this.removing.add(connection.id);
    let handed = false;
    const handOver = () => {
      if (handed) return;
      handed = true;
      this.onClosed(connection, reason);
    };
    const reported = this.afterReplace(() =>
      this.registry.remove(this.serverId, connection.id),
    ).then(
      (swept) => {
        this.removing.delete(connection.id);
        if (!this.reportedClosed.delete(connection.id) && !swept) handOver();
      },
      (error: Error) => {
        this.removing.delete(connection.id);
        this.unremoved.add(connection.id);
        this.resync = true;
        this.onError(`presence remove failed: ${error.message}`);
        // Whether a sweep reported it is unknown: a second Closed beats none.
        if (!this.reportedClosed.delete(connection.id)) handOver();
      },
    );
    this.reporting.set(reported, handOver);
    void reported.finally(() => this.reporting.delete(reported));
  }

  /** `write` now, or once the resync under way has landed (whether it succeeded or not). */
  private afterReplace<T>(write: () => Promise<T>): Promise<T> {
    return this.replacing ? this.replacing.then(write, write) : write();
  }

  /** Call before the hub closes its connections: the instance is removed in one go. */
  beginStop(): void {
    this.stopping = true;
    clearInterval(this.timer);
  }

  /**
   * Removes the instance once the closes under way are reported (see the class), waiting at most
   * `waitMs` in all: past it, the closes still unanswered are reported closed (a second Closed,
   * should a sweep have reported one, beats none — as for a failed removal), a warning says so,
   * and the instance's removal is sent without waiting for them and not awaited (the instance
   * expires after the TTL should it never land).
   */
  async stop(waitMs = DEFAULT_STOP_WAIT_MS): Promise<void> {
    this.beginStop();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), waitMs);
    });
    try {
      if ((await Promise.race([this.settleAndRemove(), late])) !== 'late') return;
    } finally {
      clearTimeout(timer);
    }
    const unanswered = [...this.reporting.values()];
    for (const handOver of unanswered) handOver();
    this.onError(
      `presence registry did not answer within ${waitMs} ms of shutdown: ${unanswered.length} stream close(s) reported closed without their removal, instance removal not confirmed`,
    );
    void this.removeInstance();
  }

  private async settleAndRemove(): Promise<void> {
    // A replace already sent could land after the removal (a script sent again after NOSCRIPT
    // goes out one round trip late) and list the instance again, streams and all, for the TTL.
    await this.replacing?.catch(() => undefined);
    // The streams the hub just ended: reported (or not, when a sweep did) before the instance
    // goes, whose removal would forget what the sweep took.
    await Promise.all(this.reporting.keys());
    await this.removeInstance();
  }

  /** Sends the instance's removal once (`stop` may send it past its bound, then again). */
  private removeInstance(): Promise<void> {
    this.removal ??= this.registry.removeInstance(this.serverId).catch((error: Error) => {
      this.onError(`presence removal failed: ${error.message}`);
    });
    return this.removal;
  }

  private async beat(): Promise<void> {
    try {
      for (const instance of await this.registry.sweep()) this.onExpired(instance);
    } catch (error) {
      this.onError(`presence sweep failed: ${(error as Error).message}`);
    }
    // Stopped while sweeping: the instance was removed, and a heartbeat now would list it
    // again (alive, with no connections) for the TTL.
    if (this.stopping) return;
    try {
      if (!this.resync && !(await this.registry.heartbeat(this.serverId))) this.resync = true;
      if (this.resync && !this.stopping) await this.replace();
    } catch (error) {
      this.onError(`presence heartbeat failed: ${(error as Error).message}`);
    }
  }

  private async replace(): Promise<void> {
    this.resync = false;
    // Their streams closed before the local connections are read: not among them.
    const gone = [...this.unremoved];
    let dropped: PresenceEntry[];
    let swept: PresenceEntry[];
    const replacing = this.registry.replace(this.serverId, [...this.local()].map(entry));
    this.replacing = replacing;
    try {
      ({ dropped, swept } = await replacing);
    } catch (error) {
      this.resync = true;
      throw error;
    } finally {
      if (this.replacing === replacing) this.replacing = undefined;
    }
    const unreported = dropped.filter(
      ({ connectionId }) => !this.removing.has(connectionId) && !this.unremoved.has(connectionId),
    );
    for (const connectionId of gone) this.unremoved.delete(connectionId);
    if (unreported.length > 0) this.onExpired({ serverId: this.serverId, connections: unreported });
    if (swept.length === 0) return;
    const open = new Set([...this.local()].map((connection) => connection.id));
    // Closed meanwhile (`local` was read before the round trip): their remove waits for this
    // replace and finds no sweep's record of them (the replace consumed it), yet the sweep
    // reported them closed.
    for (const { connectionId } of swept)
      if (!open.has(connectionId) && this.removing.has(connectionId))
        this.reportedClosed.add(connectionId);
    if (this.stopping) return;
    // Only the streams still open: an Established after the sweep's Closed of one that closed
    // meanwhile, or after the Closed of a shutdown ending every stream, would show it open for
    // good.
    const restored = swept.filter(({ connectionId }) => open.has(connectionId));
    if (restored.length > 0) this.onRestored(restored);
  }
}

function entry(connection: SseConnection): PresenceEntry {
  return {
    connectionId: connection.id,
    userId: connection.userId,
    connectedAt: connection.openedAt,
    ...(connection.trainerIds.length > 0 && { trainerIds: [...connection.trainerIds] }),
  };
}
