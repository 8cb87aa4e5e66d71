import { type Notification } from '@causeway/contracts';
import { type StreamView } from './stream.view';

/**
 * Frames as the hub hands them over: text, or text encoded (UTF-8) once for every stream it goes
 * to (SseDispatcher.dispatch).
 */
export type Frames = string | Buffer;

/** What the hub writes to: a node:http ServerResponse fits (plain `res.write`, no framework). */
export interface SseSink {
  /**
   * Always given bytes (SseConnection encodes text): a socket counts a string written to it in
   * characters in `writableLength`, so multi-byte text would pass BUFFER_MAX_BYTES 3 times over.
   */
  write(chunk: Buffer): boolean;
  end(): void;
  destroy(): void;
  /** Bytes accepted by write() but not yet handed to the kernel. */
  readonly writableLength: number;
  /** 'finish': the end was handed to the kernel; 'close': the connection went. */
  once(event: 'finish' | 'close', listener: () => void): unknown;
}

/**
 * Why a stream ended: the client went, its connection timeout, it could not keep up, the
 * instance stopped, its resume failed, its session (the credential's expiry) ended, an
 * operator disconnected its user, or the user's tokens were revoked.
 */
export type CloseReason =
  | 'client'
  | 'timeout'
  | 'slow'
  | 'shutdown'
  | 'error'
  | 'expired'
  | 'disconnected'
  | 'revoked'
  | 'log-unreachable'
  | 'log-gap';

const NO_TRAINERS: readonly string[] = [];

/**
 * One open event stream. Kept deliberately small (a few fields, no timers, no closures per
 * connection): the hub drives heartbeats and timeouts for all connections at once. (A stream
 * ended while its client did not read gets one timer: see `end`.)
 */
export class SseConnection {
  /**
   * Frames that arrived while the replay was written, each with the id of its last frame
   * (the hub queues one entry at a time here); undefined once the connection is live.
   */
  pending: { frames: Frames; id: string; notification?: Notification }[] | undefined;
  /**
   * Entries up to this id were sent to the client by another instance (a resume `ahead` of
   * this one's follower): the hub does not send them again. Undefined once one after it came.
   */
  skipThrough: string | undefined;
  private pendingBytes = 0;
  /**
   * Bytes of a one-off frame (a recovery) that may be unwritten beyond `maxBytes`: see
   * writeOnce. 0 once the unwritten bytes fell back within `maxBytes`.
   */
  private allowance = 0;
  /**
   * The id of the last frame written to the client: where it resumes from. Frames without a log
   * position of their own (heartbeats, shutdown) carry it, moved on to the hub's position once
   * every entry up to that is written (SseHub.resumePoint), so every frame has an `id:`.
   */
  lastId: string | undefined;
  closed = false;
  /** What the stream shows of the log (a progress stream); undefined for GET /events. */
  view: StreamView | undefined;
  /** When a stall check first found unwritten bytes, none found empty since; else undefined. */
  private stalledSince: number | undefined;

  constructor(
    readonly id: string,
    readonly userId: string,
    readonly openedAt: number,
    private readonly sink: SseSink,
    private readonly maxBytes: number,
    /** The other trainers the user may move (the token's claim): group member ids too. */
    readonly trainerIds: readonly string[] = NO_TRAINERS,
    /** When the credential's session ends (epoch ms; Caller.expiresAt): the stream ends then. */
    readonly expiresAt?: number,
    /** When the credential's session began (epoch ms; Caller.issuedAt): revocations cut by it. */
    readonly issuedAt?: number,
    /** The X-Request-Id the stream was answered with: its log line names it. */
    readonly requestId?: string,
    /** Heartbeats as `heartbeat` events (`?heartbeat=event`) rather than comments. */
    readonly heartbeatEvents = false,
  ) {}

  /**
   * Writes frames now, or queues them while buffering; false when the client cannot keep up.
   * `id` is the id of the last frame in `frames`; `notification`, the one entry they show (kept
   * with a queued frame for `flushPending`'s `keep`).
   */
  send(frames: Frames, id: string, notification?: Notification): boolean {
    if (this.closed) return true;
    if (this.pending) {
      this.pending.push({ frames, id, notification });
      // Bytes, as BUFFER_MAX_BYTES counts them (and a socket does): characters let multi-byte
      // text hold up to 3 times the bound.
      this.pendingBytes += Buffer.byteLength(frames);
      return this.pendingBytes <= this.maxBytes;
    }
    return this.write(frames, id);
  }

  /**
   * Writes past the pending queue (the replay itself); `id` as in send(). Written as bytes, so
   * the sink's `writableLength` counts bytes, as `maxBytes` does.
   */
  write(frames: Frames, id?: string): boolean {
    if (this.closed) return true;
    this.sink.write(bytes(frames));
    if (id !== undefined) this.lastId = id;
    const unwritten = this.sink.writableLength;
    if (this.allowance > 0 && unwritten <= this.maxBytes) this.allowance = 0;
    return unwritten <= this.maxBytes + this.allowance;
  }

  /**
   * Writes a frame sent once per stream and as large as it must be (a recovery: every recent
   * position the user may see, megabytes with many trainers) past the `maxBytes` bound: the
   * bound then applies to what is written after it, until the unwritten bytes fall back within
   * `maxBytes`. Counted against it, a recovery larger than BUFFER_MAX_BYTES got a client on a
   * slow link dropped as slow at its next frame, and recovered again on its reconnect, for
   * ever. The stall check (STALL_TIMEOUT_MS) still drops a client that does not take it.
   */
  writeOnce(frames: Frames, id: string): boolean {
    if (this.closed) return true;
    this.allowance = Buffer.byteLength(frames);
    return this.write(frames, id);
  }

  /** Writes what was queued during the replay (what `keep` accepts the id of) and goes live. */
  flushPending(keep: (id: string, notification?: Notification) => boolean = () => true): boolean {
    const pending = this.pending ?? [];
    this.pending = undefined;
    this.pendingBytes = 0;
    let ok = true;
    for (const { frames, id, notification } of pending)
      if (keep(id, notification)) ok = this.write(frames, id) && ok;
    return ok;
  }

  /**
   * A stall check: true once the unwritten bytes have been found non-empty at every check for
   * `stallMs` or more (the client has stopped reading, or reads too little to ever catch up).
   */
  stalled(now: number, stallMs: number): boolean {
    if (this.closed || this.sink.writableLength === 0) {
      this.stalledSince = undefined;
      return false;
    }
    this.stalledSince ??= now;
    return now - this.stalledSince >= stallMs;
  }

  /**
   * Ends the stream after `lastFrame`. If bytes are still unwritten then (the client stopped
   * reading and the kernel's buffers are full), the socket is destroyed once `lingerMs` have
   * passed without the end reaching the kernel: the stream has left the hub (no stall check, no
   * limit counts it), and a client that never reads again would otherwise hold its socket and
   * buffers for ever. The timer does not keep the process alive and goes once the end is written.
   *
   * A write or end that throws destroys the socket (its client resumes from the last id it read),
   * then is thrown for the caller to count the stream as an `error` (WriteGuard.failed). Marked
   * closed first, the stream was left neither ended nor destroyed before session 49: every later
   * end() or write() was a no-op.
   */
  end(lastFrame?: string, lingerMs?: number): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (lastFrame) this.sink.write(bytes(lastFrame));
      this.sink.end();
    } catch (error) {
      try {
        this.sink.destroy();
      } catch {
        // The write's error is the one to tell: the caller destroys it again (WriteGuard.failed).
      }
      throw error;
    }
    if (lingerMs === undefined || this.sink.writableLength === 0) return;
    const timer = setTimeout(() => this.sink.destroy(), lingerMs);
    timer.unref();
    const written = () => clearTimeout(timer);
    this.sink.once('finish', written);
    this.sink.once('close', written);
  }

  /** Drops the connection without flushing (a slow client's buffer is discarded). */
  destroy(): void {
    this.closed = true;
    this.sink.destroy();
  }
}

function bytes(frames: Frames): Buffer {
  return typeof frames === 'string' ? Buffer.from(frames) : frames;
}
