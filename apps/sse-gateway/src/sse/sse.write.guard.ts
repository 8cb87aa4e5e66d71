import { type CloseReason, type SseConnection } from './sse.connection';
import { retryFrame } from './sse.frames';

/** What ending streams needs of the hub. */
export interface WriteGuardOptions {
  /** The `retry:` hint of a stream ended because a write to it threw (RETRY_MS). */
  retryMs: number;
  /** How long an ended stream may keep unwritten bytes: see MAX_LINGER_MS (SseHub). */
  lingerMs: number;
  logger?: { warn(message: string): void };
  /**
   * Takes the stream out of the hub (its indexes, the limits) and counts it closed for
   * `reason`; nothing for a stream that is not (or no longer) registered.
   */
  release(connection: SseConnection, reason: CloseReason): void;
}

/**
 * How the hub ends its streams, and what ends one whose write, end or destroy throws: nothing a
 * sink throws leaves these. A throw in a timer's callback (the heartbeat, expire, checkLog) was
 * uncaught, and took the process down with every stream; one in dispatch left the rest of the
 * batch unsent (session 48). `open`'s answer to a stream a disconnect order ended, a new
 * stream's `session` frame, what a (re)connect writes as it goes live (goLive) and the
 * slow-stream drop's destroy use `failed` too (session 49).
 *
 * A write on the broadcast's path (dispatch, heartbeat) is a plain `try` whose `catch` calls
 * `failed`: not a helper taking the write as a closure, which allocated one closure per frame
 * written (session 49).
 */
export class WriteGuard {
  constructor(private readonly options: WriteGuardOptions) {}

  /**
   * Ends a stream whose write threw, at once (a later write that worked would leave a hole in
   * it): a retry hint repeating the id of the last frame written, so that its client resumes
   * from there and the replay sends what the failed write held. Destroyed if even that throws,
   * or if it was its end or destroy that threw (they mark it closed first; an end that threw
   * has destroyed it already, SseConnection.end): an EventSource then resumes from the last id
   * it read, which is the same. Released as an `error`, if registered.
   */
  failed(connection: SseConnection, error: unknown): void {
    const { logger, retryMs } = this.options;
    if (connection.closed) {
      logger?.warn(
        `stream ${connection.id} could not be ended (${messageOf(error)}): destroyed, its client resumes`,
      );
      try {
        connection.destroy();
      } catch {
        // Nothing more can be done for it: it is released below all the same.
      }
      this.options.release(connection, 'error');
      return;
    }
    logger?.warn(
      `stream ${connection.id} could not be written (${messageOf(error)}): ended, its client resumes`,
    );
    this.close(connection, 'error', retryFrame(retryMs, connection.lastId));
  }

  /**
   * Ends a stream gracefully (its last frame, then the end of the response) and releases it. One
   * whose client stopped reading is destroyed MAX_LINGER_MS later at most (SseConnection.end):
   * released already, it is no longer counted by the limits nor seen by `dropStalled`.
   *
   * Nothing thrown leaves it (its callers include the timers': expire, checkLog): a stream whose
   * last frame cannot be written is destroyed and released as an `error` (`failed`), its client
   * resuming from the last id it read (session 48).
   */
  close(connection: SseConnection, reason: CloseReason, lastFrame?: string): void {
    try {
      connection.end(lastFrame, this.options.lingerMs);
    } catch (error) {
      this.failed(connection, error);
      return;
    }
    this.options.release(connection, reason);
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
