/** What the hub writes to: a node:http ServerResponse fits (plain `res.write`, no framework). */
export interface SseSink {
  write(chunk: string): boolean;
  end(): void;
  destroy(): void;
  /** Bytes accepted by write() but not yet handed to the kernel. */
  readonly writableLength: number;
}

export type CloseReason = 'client' | 'timeout' | 'slow' | 'shutdown' | 'error';

/**
 * One open event stream. Kept deliberately small (a few fields, no timers, no closures per
 * connection): the hub drives heartbeats and timeouts for all connections at once.
 */
export class SseConnection {
  /** Frames that arrived while the replay was written; undefined once the connection is live. */
  pending: string[] | undefined;
  private pendingBytes = 0;
  closed = false;

  constructor(
    readonly id: string,
    readonly userId: string,
    readonly openedAt: number,
    private readonly sink: SseSink,
    private readonly maxBytes: number,
  ) {}

  /** Writes a frame now, or queues it while buffering; false when the client cannot keep up. */
  send(frame: string): boolean {
    if (this.closed) return true;
    if (this.pending) {
      this.pending.push(frame);
      this.pendingBytes += frame.length;
      return this.pendingBytes <= this.maxBytes;
    }
    return this.write(frame);
  }

  /** Writes past the pending queue (the replay itself). */
  write(frame: string): boolean {
    if (this.closed) return true;
    this.sink.write(frame);
    return this.sink.writableLength <= this.maxBytes;
  }

  /** Writes what was queued during the replay and goes live. */
  flushPending(): boolean {
    const pending = this.pending ?? [];
    this.pending = undefined;
    this.pendingBytes = 0;
    let ok = true;
    for (const frame of pending) ok = this.write(frame) && ok;
    return ok;
  }

  end(lastFrame?: string): void {
    if (this.closed) return;
    this.closed = true;
    if (lastFrame) this.sink.write(lastFrame);
    this.sink.end();
  }

  /** Drops the connection without flushing (a slow client's buffer is discarded). */
  destroy(): void {
    this.closed = true;
    this.sink.destroy();
  }
}
