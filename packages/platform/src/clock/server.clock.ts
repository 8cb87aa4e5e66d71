import { performance } from 'node:perf_hooks';
import type Redis from 'ioredis';

export interface ServerClockOptions {
  /** The shared server's time in epoch milliseconds (Redis: `redisTime(client)`). */
  read: () => Promise<number>;
  /** How old the last reading may get before a call of now() takes the next. Default 10 s. */
  refreshMs?: number;
  /**
   * Readings keep failing (told once per run of failures, at the fifth: the first ones of a
   * start, before the connection is open, are expected).
   */
  onError?: (message: string) => void;
}

/** A reading whose round trip took longer than this is dropped: its error could be half of it. */
const MAX_ROUND_TRIP_MS = 1_000;
/** Until the first reading, the next is tried this soon after a failure. */
const FIRST_READING_RETRY_MS = 500;

/**
 * The time of the one server every instance talks to (Redis), read without a round trip: what
 * hosts stamp on messages that another host compares (a move's acceptance time, from which the
 * trainer's elapsed movement is computed; its deadline). Host clocks drift apart, and the
 * clock-skew review (session 19) measured what that does: with two command-api instances 30 s
 * apart, a trainer walking for 5 s ended at its start, or 30 s further on, for good.
 *
 * It takes a reading of the server's time now and then (in the background, at most one at a
 * time) and counts from it on the monotonic clock, half the reading's round trip later, so a
 * step of this host's wall clock does not move it either. Until the first reading, and while
 * none succeeds, it is this host's clock.
 */
export class ServerClock {
  private anchor: { server: number; mono: number } | undefined;
  private reading: Promise<void> | undefined;
  private failures = 0;
  private attemptedAt = -Infinity;
  /** What now() told last, unrounded, and when (monotonic). */
  private last = -Infinity;
  private lastMono = 0;
  private readonly refreshMs: number;

  constructor(private readonly options: ServerClockOptions) {
    this.refreshMs = options.refreshMs ?? 10_000;
    this.refresh(performance.now());
  }

  /** Whole epoch milliseconds by the server's clock (this host's until the first reading). */
  now(): number {
    const mono = performance.now();
    if (mono - this.attemptedAt >= this.refreshMs) this.refresh(mono);
    const anchor = this.anchor;
    if (!anchor) return Date.now();
    let told = anchor.server + (mono - anchor.mono);
    // Not backwards across readings: a new one may be up to half a round trip (at most
    // MAX_ROUND_TRIP_MS) behind what the last one told. Then it runs at half speed until the
    // reading catches up, neither back nor standing still: a stop stamped in that window must
    // not get its start's time (the trainer would not have moved between them). A larger step
    // back is the server's clock being set back: followed.
    if (told < this.last && this.last - told <= MAX_ROUND_TRIP_MS)
      told = this.last + (mono - this.lastMono) / 2;
    this.last = told;
    this.lastMono = mono;
    return Math.floor(told);
  }

  /** Takes a reading now; resolves once it is in (or failed). */
  sync(): Promise<void> {
    // One at a time: a call while a reading is under way waits for that one.
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async read(): Promise<void> {
    try {
      const sent = performance.now();
      const server = await this.options.read();
      const received = performance.now();
      if (received - sent <= MAX_ROUND_TRIP_MS) {
        this.anchor = { server, mono: (sent + received) / 2 };
        this.failures = 0;
      }
    } catch (error) {
      if (++this.failures === 5)
        this.options.onError?.(
          `the server's time could not be read (${(error as Error)?.message}); ` +
            (this.anchor ? 'counting on from the last reading' : "using this host's clock"),
        );
    } finally {
      // Also after a reading dropped for its round trip: until the first one, try again soon.
      if (!this.anchor)
        setTimeout(() => this.refresh(performance.now()), FIRST_READING_RETRY_MS).unref();
    }
  }

  /** At most one reading per refreshMs, also while they fail (each failure may take a timeout). */
  private refresh(mono: number): void {
    this.attemptedAt = mono;
    void this.sync();
  }
}

/** Redis' `TIME` in epoch milliseconds: a ServerClock's `read` for an app with Redis. */
export function redisTime(client: Redis): () => Promise<number> {
  return async () => {
    const [seconds, micros] = await client.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };
}
