import { CommandBacklogError } from '../errors/command-api.errors';

/**
 * How many commands of a topic wait for their handler's consumer group — sent and not yet
 * handled — or undefined when the group does not exist yet (nobody handles the topic).
 * Rejects when it cannot tell.
 */
export type BacklogMeasure = (topic: string, group: string) => Promise<number | undefined>;

export interface CommandBacklogOptions {
  /** More than this many commands waiting in a topic: new ones are refused (COMMAND_BACKLOG_MAX). */
  max: number;
  measure: BacklogMeasure;
  /**
   * How old a measurement may get before a request starts the next one; one older than twice
   * this (no traffic for a while: the backlog may have drained) refuses nothing. Default 1 000 ms.
   */
  refreshMs?: number;
  /** Seconds a refused caller is told to wait (Retry-After). Default 5. */
  retryAfterSeconds?: number;
  /** A failed measurement (the first of a run of failures: logged once, not per request). */
  onError?: (message: string) => void;
}

interface Measurement {
  at: number;
  waiting: number | undefined;
}

/**
 * Admission by backlog: commands sent to a topic whose handlers are further behind than `max`
 * are refused (503 `overloaded`, nothing sent) instead of accepted, queued behind minutes of
 * work and rejected as expired later. The overload review (session 19) measured the
 * alternative: at twice the capacity, two thirds of the accepted moves ended `rejected` a
 * minute after their 202, and a user at normal speed had 2 of 59 moves applied.
 *
 * A request never waits for a measurement: it is judged on the latest one, and starts the next
 * (one at a time per topic) when that is older than `refreshMs`. It fails open: no measurement
 * yet, one that failed, or one older than two `refreshMs` (no traffic for a while, so the
 * backlog may have drained meanwhile) admits the command.
 */
export class CommandBacklog {
  private readonly latest = new Map<string, Measurement>();
  private readonly measuring = new Set<string>();
  private readonly refreshMs: number;
  private failing = false;

  constructor(private readonly options: CommandBacklogOptions) {
    if (!Number.isInteger(options.max) || options.max < 1)
      throw new RangeError(`CommandBacklog: max must be a positive integer, got ${options.max}`);
    this.refreshMs = options.refreshMs ?? 1_000;
  }

  /**
   * @throws CommandBacklogError when more than `max` commands of `topic` wait for `group`, the
   * consumer group of their handler
   */
  admit(topic: string, group: string, now = Date.now()): void {
    const key = `${topic}\u0000${group}`;
    const measured = this.latest.get(key);
    if (!measured || now - measured.at >= this.refreshMs) this.measure(key, topic, group);
    if (!measured || measured.waiting === undefined || now - measured.at > 2 * this.refreshMs)
      return;
    if (measured.waiting > this.options.max)
      throw new CommandBacklogError(
        measured.waiting,
        this.options.max,
        this.options.retryAfterSeconds ?? 5,
      );
  }

  private measure(key: string, topic: string, group: string): void {
    if (this.measuring.has(key)) return;
    this.measuring.add(key);
    this.options
      .measure(topic, group)
      .then(
        (waiting) => {
          this.failing = false;
          this.latest.set(key, { at: Date.now(), waiting });
        },
        (error: unknown) => {
          // Unknown (admits) until the next measurement, tried after refreshMs.
          this.latest.set(key, { at: Date.now(), waiting: undefined });
          if (this.failing) return;
          this.failing = true;
          this.options.onError?.(
            `the backlog of ${topic} could not be measured (${(error as Error)?.message}); ` +
              'commands are admitted until it can',
          );
        },
      )
      .finally(() => this.measuring.delete(key));
  }
}
