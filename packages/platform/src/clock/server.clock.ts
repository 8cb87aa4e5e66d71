import { performance } from 'node:perf_hooks';
import type Redis from 'ioredis';
import { DeferredError, type HealthProbe } from '@causeway/cqrs-core';

export interface ServerClockOptions {
  /** The shared server's time in epoch milliseconds (Redis: `redisTime(client)`). */
  read: () => Promise<number>;
  /** How old the last reading may get before a call of now() takes the next. Default 10 s. */
  refreshMs?: number;
  /**
   * A round trip this short ends the start-up sampling at once (its reading is off by at most
   * half of it). Default 5 ms; otherwise the best of the first 8 readings is kept.
   */
  goodRoundTripMs?: number;
  /**
   * Readings keep failing (told once per run of failures, at the fifth: the first ones of a
   * start, before the connection is open, are expected).
   */
  onError?: (message: string) => void;
  /** A reading was dropped (a worse one than the one kept) or followed a step: for a debug log. */
  onDebug?: (message: string) => void;
  /** Milliseconds on a monotonic clock. Default `performance.now` (a test gives its own). */
  monotonic?: () => number;
}

/** A reading whose round trip took longer than this is dropped: its error could be half of it. */
const MAX_ROUND_TRIP_MS = 1_000;
/** Until the first reading, the next is tried this soon after a failure. */
const FIRST_READING_RETRY_MS = 500;
/** At start, readings are taken this far apart until a good one is in ... */
const START_GAP_MS = 10;
/** ... or this many are: the best of them is kept. */
const START_READINGS = 8;
/**
 * How fast a kept reading's error bound grows: this host's monotonic clock and the server's may
 * run apart by this much (NTP slews a clock by at most 500 ppm).
 */
const DRIFT = 500e-6;

/**
 * now() before the clock has read the server's time (session 30): nothing is stamped or checked
 * by this host's clock instead. A DeferredError: a command handler that meets it leaves the
 * command to be delivered again; command-api answers 503 with Retry-After.
 */
export class ServerClockUnsynchronisedError extends DeferredError {
  constructor() {
    super(
      "the server's clock (Redis TIME) has not been read yet: nothing is stamped or checked " +
        "by this host's clock",
    );
    this.name = 'ServerClockUnsynchronisedError';
  }
}

/** One reading: the server told `server` at `mono` (the midpoint of a `roundTrip`). */
interface Reading {
  server: number;
  mono: number;
  roundTrip: number;
}

/** How far a reading may be off at `mono`: half its round trip, plus the drift since. */
const errorBound = (reading: Reading, mono: number) =>
  reading.roundTrip / 2 + Math.abs(mono - reading.mono) * DRIFT;

/**
 * The time of the one server every instance talks to (Redis), read without a round trip: what
 * hosts stamp on messages that another host compares (a move's acceptance time, from which the
 * trainer's elapsed movement is computed; its deadline). Host clocks drift apart, and the
 * clock-skew review (session 19) measured what that does: with two command-api instances 30 s
 * apart, a trainer walking for 5 s ended at its start, or 30 s further on, for good.
 *
 * It takes a reading of the server's time now and then (in the background, at most one at a
 * time) and counts from it on the monotonic clock, half the reading's round trip later, so a
 * step of this host's wall clock does not move it either. A reading may be off by half its
 * round trip, so, as NTP does, it keeps the reading with the smallest error bound: at start it
 * takes readings back to back (the first one often waits for the connection to open, and was
 * off by up to 0.5 s: session 30) until one's round trip is at most `goodRoundTripMs`, or keeps
 * the best of the first 8; later, a reading replaces the kept one only when its bound (half its
 * round trip) is no larger than the kept one's (half its round trip, grown by the drift since),
 * or when it disagrees with it by more than both bounds (the server's clock was set: followed).
 * Until the start-up sampling is over it is not `synchronised`: now() throws
 * ServerClockUnsynchronisedError rather than tell this host's clock (session 30: an instance
 * whose first reading failed stamped moves 60 s ahead, or expired fresh ones), and `probe()`
 * keeps /health/ready unready. Once synchronised it stays so: while later readings fail it counts
 * on from the last one.
 */
export class ServerClock {
  private anchor: Reading | undefined;
  private reading: Promise<void> | undefined;
  private failures = 0;
  private attemptedAt = -Infinity;
  /** Readings taken at start; the start is over once `started`. */
  private startReadings = 0;
  private started = false;
  /** What now() told last, unrounded, and when (monotonic). */
  private last = -Infinity;
  private lastMono = 0;
  private readonly refreshMs: number;
  private readonly goodRoundTripMs: number;
  private readonly monotonic: () => number;

  constructor(private readonly options: ServerClockOptions) {
    this.refreshMs = options.refreshMs ?? 10_000;
    this.goodRoundTripMs = options.goodRoundTripMs ?? 5;
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.refresh(this.monotonic());
  }

  /** Whether the start-up readings are in: until then now() throws. */
  get synchronised(): boolean {
    return this.started;
  }

  /** Resolves true once synchronised, false if that has not happened within `timeoutMs`. */
  async whenSynchronised(timeoutMs: number): Promise<boolean> {
    for (const until = Date.now() + timeoutMs; !this.started && Date.now() < until;)
      await new Promise((resolve) => setTimeout(resolve, 10));
    return this.started;
  }

  /**
   * How far now() may be off the server's time, in milliseconds: half the round trip of the
   * reading it counts from, grown by the drift since. Not counted: the millisecond now() floors
   * to, nor one a `read` floors to (redisTime does). Undefined until synchronised.
   */
  get errorBoundMs(): number | undefined {
    return this.started ? errorBound(this.anchor!, this.monotonic()) : undefined;
  }

  /** A readiness probe (`clock`): fails until synchronised. */
  probe(name = 'clock'): HealthProbe {
    return {
      name,
      check: async () => {
        if (!this.started) throw new ServerClockUnsynchronisedError();
      },
    };
  }

  /**
   * Whole epoch milliseconds by the server's clock.
   * @throws ServerClockUnsynchronisedError until synchronised
   */
  now(): number {
    const mono = this.monotonic();
    if (this.started && mono - this.attemptedAt >= this.refreshMs) this.refresh(mono);
    const anchor = this.anchor;
    if (!anchor || !this.started) throw new ServerClockUnsynchronisedError();
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

  /** Takes a reading now; resolves once it is in (or failed, or was dropped). */
  sync(): Promise<void> {
    // One at a time: a call while a reading is under way waits for that one.
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async read(): Promise<void> {
    let retryMs = FIRST_READING_RETRY_MS;
    try {
      const sent = this.monotonic();
      const server = await this.options.read();
      const received = this.monotonic();
      this.failures = 0;
      const reading = { server, mono: (sent + received) / 2, roundTrip: received - sent };
      if (reading.roundTrip > MAX_ROUND_TRIP_MS)
        this.options.onDebug?.(
          `dropped a reading of the server's time: round trip ${Math.round(reading.roundTrip)} ms`,
        );
      else {
        this.keep(reading);
        if (!this.started) {
          this.startReadings++;
          this.started =
            this.anchor!.roundTrip <= this.goodRoundTripMs || this.startReadings >= START_READINGS;
          retryMs = START_GAP_MS;
        }
      }
    } catch (error) {
      if (++this.failures === 5)
        this.options.onError?.(
          `the server's time could not be read (${(error as Error)?.message}); ` +
            (this.started
              ? 'counting on from the last reading'
              : 'commands are refused until it is read'),
        );
    } finally {
      // Also after a reading dropped for its round trip: until the start is over, try again soon.
      if (!this.started) setTimeout(() => this.refresh(this.monotonic()), retryMs).unref();
    }
  }

  /** Keeps `reading` when it is at least as good as the kept one, or the server's clock was set. */
  private keep(reading: Reading): void {
    const kept = this.anchor;
    if (!kept) {
      this.anchor = reading;
      return;
    }
    const bound = errorBound(reading, reading.mono);
    const keptBound = errorBound(kept, reading.mono);
    // What the kept reading says the server told at the new one's time, and by how much they
    // differ: more than both bounds (plus the millisecond TIME is floored to) is a step.
    const apart = reading.server - (kept.server + (reading.mono - kept.mono));
    if (Math.abs(apart) > bound + keptBound + 1) {
      this.options.onDebug?.(
        `the server's clock moved ${Math.round(apart)} ms against the last reading: following it`,
      );
      this.anchor = reading;
    } else if (bound <= keptBound) this.anchor = reading;
    else
      this.options.onDebug?.(
        `dropped a reading of the server's time: round trip ${Math.round(reading.roundTrip)} ms, ` +
          `the kept one's error bound is ${keptBound.toFixed(1)} ms`,
      );
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
