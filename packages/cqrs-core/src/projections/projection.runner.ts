import { type EventStore, type Subscription } from '../event-store/event-store.port';
import { type HealthProbe } from '../health/health-probe.port';
import { type CheckpointStore } from '../outbox/checkpoint-store.port';
import { throttledWarning } from '../router/throttled.warning';
import { type Projection } from './projection.port';

/** The `type` of the process warning a runner without `onError` emits. */
export const PROJECTION_WARNING = 'CausewayProjectionWarning';

export interface ProjectionRunnerOptions {
  eventStore: Pick<EventStore, 'subscribe'>;
  checkpoints: CheckpointStore;
  /** How often a projection's checkpoint is saved while events flow. Default 1 000 ms. */
  checkpointIntervalMs?: number;
  /** Poll interval of the subscriptions once caught up. Default 100 ms (the store's). */
  pollIntervalMs?: number;
  /** Events read per page. Default the store's (500). */
  batchSize?: number;
  /** Backoff after a failure: doubling from `initialDelayMs` up to `maxDelayMs`, with jitter. Default 100 ms → 30 s. */
  backoff?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Failures in a row after which `probe()` reports the projection. Default 3. */
  unhealthyAfterFailures?: number;
  /**
   * Told of every failure: of `apply`, of reading, of loading or saving a checkpoint. Default:
   * a `CausewayProjectionWarning` process warning for the first failure of each projection,
   * then at most one every 10 s, counting those left out (a projection stuck on an event
   * retries it for ever: it must not be silent).
   */
  onError?: (error: unknown, projection: string) => void;
}

/** What `status()` tells of one projection. */
export interface ProjectionStatus {
  name: string;
  /** Every event of the projection at or before this position was applied. */
  position: number;
  /** The checkpoint last saved: where a restart resumes. */
  saved: number;
  /** Whether it has reached the end of the log at least once since it started. */
  caughtUp: boolean;
  /** Failures in a row (0 once an event is applied again). */
  failures: number;
  lastError?: string;
}

interface Running {
  projection: Projection;
  status: ProjectionStatus;
  subscription?: Subscription;
  caughtUp: Promise<void>;
  markCaughtUp: () => void;
  /** Rejects `caughtUp` when the runner stops first. */
  stoppedFirst: (error: Error) => void;
  loop?: Promise<void>;
  wake?: () => void;
}

/**
 * Runs projections (read models) over an event store's global log: each resumes from its
 * saved checkpoint, catches up, then follows the log (a catch-up subscription); its checkpoint
 * is saved every `checkpointIntervalMs` while events flow, when it catches up, and on `stop`.
 * A failure is retried from the event that failed, after a growing backoff; other projections
 * go on. Delivery is at least once (see Projection).
 *
 * One runner per process and set of projections. With several instances of a service, each
 * runs every projection of a read model that is per instance (in memory); for a shared read
 * model run it in one instance (e.g. under a LeaseSupervisor, a new runner per turn: a stopped
 * runner does not start again), or make `apply` safe for concurrent use.
 */
export class ProjectionRunner {
  private readonly running = new Map<string, Running>();
  private stopped = false;
  private readonly report: (error: unknown, projection: string) => void;

  /** @throws TypeError naming the option that is missing or out of range */
  constructor(private readonly options: ProjectionRunnerOptions) {
    if (!options?.eventStore || !options.checkpoints)
      throw new TypeError(
        'ProjectionRunner: options.eventStore and options.checkpoints are required',
      );
    this.report = options.onError ?? this.warnOfFailures();
    const positive = (name: string, value: unknown, integer = false) => {
      if (value === undefined) return;
      const ok =
        typeof value === 'number' &&
        value > 0 &&
        value <= 2_147_483_647 &&
        (integer ? Number.isInteger(value) : Number.isFinite(value));
      if (!ok)
        throw new TypeError(
          `ProjectionRunner: ${name} must be a positive ${integer ? 'integer' : 'number of milliseconds'}, got ${String(value)}`,
        );
    };
    positive('checkpointIntervalMs', options.checkpointIntervalMs);
    positive('pollIntervalMs', options.pollIntervalMs);
    positive('batchSize', options.batchSize, true);
    positive('backoff.initialDelayMs', options.backoff?.initialDelayMs);
    positive('backoff.maxDelayMs', options.backoff?.maxDelayMs);
    positive('unhealthyAfterFailures', options.unhealthyAfterFailures, true);
  }

  /**
   * Starts `projection` from its saved checkpoint, in the background.
   * @throws Error when a projection of that name runs already, or after stop()
   */
  start(projection: Projection): this {
    if (this.stopped) throw new Error('ProjectionRunner: stopped; create another runner');
    if (this.running.has(projection.name))
      throw new Error(`ProjectionRunner: projection ${projection.name} runs already`);
    let markCaughtUp = () => {};
    let stoppedFirst: (error: Error) => void = () => {};
    const caughtUp = new Promise<void>((resolve, reject) => {
      markCaughtUp = resolve;
      stoppedFirst = reject;
    });
    // Rejected only for callers of whenCaughtUp: not an unhandled rejection when none waits.
    caughtUp.catch(() => undefined);
    const run: Running = {
      projection,
      status: { name: projection.name, position: 0, saved: 0, caughtUp: false, failures: 0 },
      caughtUp,
      markCaughtUp,
      stoppedFirst,
    };
    this.running.set(projection.name, run);
    // Never rejects: a failure the loop did not expect is reported like any other.
    run.loop = this.loop(run).catch((error: unknown) => this.report(error, projection.name));
    return this;
  }

  /**
   * Resolves once the named projection (or every one started) has reached the end of the log.
   * @throws Error when the runner is stopped before that
   */
  async whenCaughtUp(name?: string): Promise<void> {
    const runs = name === undefined ? [...this.running.values()] : [this.running.get(name)];
    if (runs.some((run) => run === undefined))
      throw new Error(`ProjectionRunner: no projection ${name}`);
    await Promise.all(runs.map((run) => run!.caughtUp));
  }

  status(): ProjectionStatus[] {
    return [...this.running.values()].map((run) => ({ ...run.status }));
  }

  /**
   * Unhealthy while a projection has not caught up once since it started (its read model is
   * behind the log: put it behind readiness), or has failed `unhealthyAfterFailures` times in a
   * row; the error names each such projection.
   */
  probe(name = 'projections'): HealthProbe {
    const limit = this.options.unhealthyAfterFailures ?? 3;
    return {
      name,
      check: async () => {
        const problems = [...this.running.values()].flatMap(({ status }) => [
          ...(status.caughtUp ? [] : [`${status.name} is catching up (at ${status.position})`]),
          ...(status.failures >= limit
            ? [`${status.name} failed ${status.failures} times in a row: ${status.lastError}`]
            : []),
        ]);
        if (problems.length > 0) throw new Error(problems.join('; '));
      },
    };
  }

  /** The default report of failures (see ProjectionRunnerOptions.onError). */
  private warnOfFailures(): (error: unknown, projection: string) => void {
    const warn = throttledWarning({ type: PROJECTION_WARNING, code: 'CAUSEWAY_PROJECTION_FAILED' });
    return (error, projection) => {
      const status = this.running.get(projection)?.status;
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      warn(
        projection,
        `projection ${projection} failed after position ${status?.position ?? 0} ` +
          `(${status?.failures ?? 1} failure(s) in a row): ${reason}. It retries from there ` +
          'with backoff; status() and probe() name it',
      );
    };
  }

  /** Stops every projection after the event in flight and saves its checkpoint. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const run of this.running.values()) run.wake?.();
    await Promise.all([...this.running.values()].map((run) => run.loop));
    for (const run of this.running.values())
      if (!run.status.caughtUp)
        run.stoppedFirst(
          new Error(`ProjectionRunner: stopped before ${run.projection.name} caught up`),
        );
  }

  private async loop(run: Running): Promise<void> {
    const { projection, status } = run;
    const interval = this.options.checkpointIntervalMs ?? 1_000;
    let attempt = 0;
    const failed = (error: unknown) => {
      status.failures += 1;
      status.lastError = (error as Error)?.message ?? String(error);
      this.report(error, projection.name);
    };
    // The saved checkpoint, read until that works.
    for (;;) {
      if (this.stopped) return;
      try {
        status.position = status.saved = await this.options.checkpoints.load(projection.name);
        break;
      } catch (error) {
        failed(error);
        await this.pause(run, ++attempt);
      }
    }
    while (!this.stopped) {
      let failure: { error: unknown } | undefined;
      let ended = () => {};
      const end = new Promise<void>((resolve) => (ended = resolve));
      const subscription = this.options.eventStore.subscribe({
        fromPosition: status.position,
        types: projection.types ? [...projection.types] : undefined,
        limit: this.options.batchSize,
        pollIntervalMs: this.options.pollIntervalMs,
        handler: async (event) => {
          await projection.apply(event);
          status.failures = 0;
          attempt = 0;
        },
        onCaughtUp: (position) => {
          status.position = position;
          status.failures = 0;
          attempt = 0;
          if (!status.caughtUp) {
            status.caughtUp = true;
            run.markCaughtUp();
          }
          if (position > status.saved) void this.save(run);
        },
        onError: (error) => {
          failure = { error };
          ended();
        },
      });
      run.subscription = subscription;
      const timer = setInterval(() => {
        status.position = subscription.position;
        if (status.position > status.saved) void this.save(run);
      }, interval);
      run.wake = ended;
      await end;
      clearInterval(timer);
      await subscription.stop();
      status.position = subscription.position;
      run.wake = undefined;
      if (failure) {
        failed(failure.error);
        await this.save(run);
        await this.pause(run, ++attempt);
      }
    }
    await this.save(run);
  }

  private saving = new Map<string, Promise<void>>();

  /** Saves the projection's position; one save at a time per projection. */
  private async save(run: Running): Promise<void> {
    const name = run.projection.name;
    await this.saving.get(name);
    const position = run.status.position;
    if (position <= run.status.saved) return;
    const saving = this.options.checkpoints.save(name, position).then(
      () => {
        run.status.saved = Math.max(run.status.saved, position);
      },
      (error: unknown) => this.report(error, name),
    );
    this.saving.set(name, saving);
    await saving;
  }

  /** Waits the backoff of `attempt` (cut short by stop(), not begun after it). */
  private pause(run: Running, attempt: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const first = this.options.backoff?.initialDelayMs ?? 100;
    const max = this.options.backoff?.maxDelayMs ?? 30_000;
    const base = Math.min(max, first * 2 ** Math.min(attempt - 1, 30));
    const delay = base / 2 + Math.random() * (base / 2);
    return new Promise((resolve) => {
      const timer = setTimeout(done, delay);
      function done() {
        clearTimeout(timer);
        run.wake = undefined;
        resolve();
      }
      run.wake = done;
    });
  }
}
