import { AsyncLocalStorage } from 'node:async_hooks';
import { type Registry } from 'prom-client';
import { shownValue } from '../config/shown-value';
import {
  type EventStore,
  type StoredEvent,
  type Subscription,
} from '../event-store/event-store.port';
import { type HealthProbe } from '../health/health-probe.port';
import { isMessageType } from '../messages/message.type';
import { type CheckpointStore } from '../outbox/checkpoint-store.port';
import { throttledWarning } from '../router/throttled.warning';
import { ProjectionWaitTimeoutError } from './projection.errors';
import { type ProjectionMetrics, projectionMetrics } from './projection.metrics';
import { type Projection } from './projection.port';

/** The runner whose projection's apply is running (stop() from inside it must not wait for it). */
const applyingNow = new AsyncLocalStorage<{ owner: object; running: boolean }>();

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
  /**
   * Failures in a row (of applying or reading events, or of saving the checkpoint) after which
   * `probe()` reports the projection. Default 3.
   */
  unhealthyAfterFailures?: number;
  /**
   * Told of every failure: of `apply`, of reading, of loading or saving a checkpoint. Default:
   * a `CausewayProjectionWarning` process warning for the first failure of each projection,
   * then at most one every 10 s, counting those left out (a projection stuck on an event
   * retries it for ever: it must not be silent).
   */
  onError?: (error: unknown, projection: string) => void;
  /**
   * Attempts at one event (applying it, or reading it when it cannot be decoded) after which
   * the runner gives up on it and goes on with the next: the read model then lacks that
   * event, and `onSkipped` is told. Default: no limit — a failing event is retried for ever
   * and the projection waits on it (an operator can `skip()` it).
   */
  maxAttempts?: number;
  /**
   * Told of each event given up on (after `maxAttempts`, or by `skip()`): where it is, and the
   * last error. Default: a `CausewayProjectionWarning` process warning naming the projection
   * and the event (the first of each projection, then at most one every 10 s).
   */
  onSkipped?: (skipped: SkippedEvent, error: unknown, projection: string) => void;
  /**
   * Told of the progress of a projection that is catching up or rebuilding, every
   * `progressIntervalMs` until it reaches the end of the log (for a log line; status() and
   * the metrics show the same). Default: nothing.
   */
  onProgress?: (status: ProjectionStatus) => void;
  /** Default 10 000 ms. */
  progressIntervalMs?: number;
  /**
   * Where to register the projections' metrics (`causeway_projection_*`: events applied with
   * their latency, failures, skipped events, position, caught up, seconds behind). Several
   * runners may share one registry. Default: no metrics.
   */
  registry?: Registry;
}

/** Where an event given up on lies in the log (what `skip()` and `onSkipped` name). */
export interface SkippedEvent {
  position: number;
  streamId?: string;
  version?: number;
  type?: string;
  messageId?: string;
  /** Attempts made at it. */
  attempts: number;
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
  /**
   * Failed checkpoint saves in a row (0 once one succeeds): events may still be applied, but a
   * restart replays everything after `saved`.
   */
  saveFailures: number;
  lastSaveError?: string;
  /** The event it fails on now, when the failure names one (`skip()` gives up on it). */
  failingAt?: SkippedEvent;
  /** Events applied since this runner started it. */
  applied: number;
  /** Events given up on since this runner started it. */
  skipped: number;
  /**
   * How old the last applied event is (its `metadata.timestamp`) while the projection is
   * behind; 0 once it has reached the end of the log and nothing newer was applied since. While
   * `apply` has an event it has not applied yet (in flight, or failing and retried), how old
   * that event is: a projection stuck on one is behind the log, whatever end it reached before.
   */
  behindMs: number;
  /** True from `rebuild()` until the projection has caught up again. */
  rebuilding: boolean;
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
  /** Set by rebuild(): the loop ends after the event in flight (and is started again). */
  halted?: boolean;
  /** From rebuild() until the read model is emptied and the position back at 0. */
  resetting?: boolean;
  rebuild?: Promise<void>;
  /** Set by skip(): the loop gives up on `status.failingAt` before it tries it again. */
  skipAsked?: boolean;
  /** Timestamp (ms) of the last event applied, and whether the end of the log came after it. */
  lastEventAt?: number;
  atEnd: boolean;
  /**
   * Timestamp (ms) of the event handed to `apply` and not applied yet (in flight, or failing):
   * the oldest the projection lacks. Cleared once it is applied or given up on.
   */
  pendingAt?: number;
}

/**
 * Runs projections (read models) over an event store's global log: each resumes from its
 * saved checkpoint, catches up, then follows the log (a catch-up subscription); its checkpoint
 * is saved every `checkpointIntervalMs` while events flow, when it catches up, and on `stop`.
 * A failure is retried from the event that failed, after a growing backoff; other projections
 * go on. An event that keeps failing is given up on after `maxAttempts`, or by `skip()`.
 * `rebuild()` replays the whole log into an emptied read model. Delivery is at least once
 * (see Projection).
 *
 * One runner per process and set of projections. With several instances of a service, each
 * runs every projection of a read model that is per instance (in memory); for a shared read
 * model run it in one instance (e.g. under a LeaseSupervisor, a new runner per turn: a stopped
 * runner does not start again), or make `apply` safe for concurrent use.
 */
export class ProjectionRunner {
  private readonly running = new Map<string, Running>();
  /** waitFor() calls in progress: each checks its condition when a position moves. */
  private readonly waiters = new Set<{ check: () => boolean; fail: (error: Error) => void }>();
  private stopped = false;
  private readonly report: (error: unknown, projection: string) => void;
  private readonly reportSkip: (skipped: SkippedEvent, error: unknown, projection: string) => void;
  private readonly metrics: ProjectionMetrics;
  private readonly unwatch: () => void;

  /** @throws TypeError naming the option that is missing or out of range */
  constructor(private readonly options: ProjectionRunnerOptions) {
    if (!options?.eventStore || !options.checkpoints)
      throw new TypeError(
        'ProjectionRunner: options.eventStore and options.checkpoints are required',
      );
    const positive = (name: string, value: unknown, integer = false) => {
      if (value === undefined) return;
      const ok =
        typeof value === 'number' &&
        value > 0 &&
        value <= 2_147_483_647 &&
        (integer ? Number.isInteger(value) : Number.isFinite(value));
      if (!ok)
        throw new TypeError(
          `ProjectionRunner: ${name} must be a positive ${integer ? 'integer' : 'number of milliseconds'}, got ${shownValue(value)}`,
        );
    };
    positive('checkpointIntervalMs', options.checkpointIntervalMs);
    positive('pollIntervalMs', options.pollIntervalMs);
    positive('batchSize', options.batchSize, true);
    positive('backoff.initialDelayMs', options.backoff?.initialDelayMs);
    positive('backoff.maxDelayMs', options.backoff?.maxDelayMs);
    positive('unhealthyAfterFailures', options.unhealthyAfterFailures, true);
    positive('maxAttempts', options.maxAttempts, true);
    positive('progressIntervalMs', options.progressIntervalMs);
    const report = options.onError ?? this.warnOfFailures();
    this.report = (error, projection) => {
      try {
        report(error, projection);
      } catch {
        // a throwing onError does not stop the projection, nor its later saves
      }
    };
    this.reportSkip = options.onSkipped ?? this.warnOfSkips();
    this.metrics = projectionMetrics(options.registry);
    this.unwatch = this.metrics.watch(() => this.status());
  }

  /**
   * Starts `projection` from its saved checkpoint, in the background.
   * @throws TypeError naming the field when `projection` is not one the runner can run (its
   *   name, apply, types or reset), before anything is started
   * @throws Error when a projection of that name runs already, or after stop()
   */
  start(projection: Projection): this {
    checkProjection(projection);
    if (this.stopped) throw new Error('ProjectionRunner: stopped; create another runner');
    if (this.running.has(projection.name))
      throw new Error(`ProjectionRunner: projection ${projection.name} runs already`);
    const run: Running = {
      projection,
      status: {
        name: projection.name,
        position: 0,
        saved: 0,
        caughtUp: false,
        failures: 0,
        saveFailures: 0,
        applied: 0,
        skipped: 0,
        behindMs: 0,
        rebuilding: false,
      },
      ...deferred(),
      atEnd: false,
    };
    this.running.set(projection.name, run);
    this.launch(run);
    return this;
  }

  /**
   * Resolves once the named projection (or every one started) has reached the end of the log
   * (after a `rebuild()`, the end of its replay).
   * @throws Error when the runner is stopped before that
   */
  async whenCaughtUp(name?: string): Promise<void> {
    const runs = name === undefined ? [...this.running.values()] : [this.running.get(name)];
    if (runs.some((run) => run === undefined))
      throw new Error(`ProjectionRunner: no projection ${name}`);
    await Promise.all(runs.map((run) => run!.caughtUp));
  }

  /**
   * Resolves once the named projection (or every one started) has applied every event of its
   * types at or before `position` — e.g. the last of a command's `positions` (CommandResult),
   * so that a query right after the command sees its effect (read your own writes). Resolves
   * at once when that is so already.
   * @throws TypeError when `position` or `timeoutMs` is out of range
   * @throws Error when there is no such projection, or the runner stops first
   * @throws ProjectionWaitTimeoutError after `timeoutMs` (default 5 000), naming where the
   *   projection is and the failure it is stuck on, if any
   */
  waitFor(position: number, options: { name?: string; timeoutMs?: number } = {}): Promise<void> {
    const { name, timeoutMs = 5_000 } = options;
    if (!Number.isSafeInteger(position) || position < 0)
      return Promise.reject(
        new TypeError(
          `ProjectionRunner.waitFor: position must be a non-negative integer, got ${shownValue(position)}`,
        ),
      );
    if (!(typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs <= 2_147_483_647))
      return Promise.reject(
        new TypeError(
          `ProjectionRunner.waitFor: timeoutMs must be a positive number, got ${shownValue(timeoutMs)}`,
        ),
      );
    const runs = name === undefined ? [...this.running.values()] : [this.running.get(name)];
    if (runs.some((run) => run === undefined))
      return Promise.reject(new Error(`ProjectionRunner: no projection ${name}`));
    // A run whose rebuild has not emptied the read model yet is behind whatever its position.
    const behind = () => runs.find((run) => run!.resetting || run!.status.position < position);
    if (!behind()) return Promise.resolve();
    if (this.stopped) return Promise.reject(new Error('ProjectionRunner: stopped'));
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        check: () => {
          if (behind()) return false;
          settle();
          resolve();
          return true;
        },
        fail: (error: Error) => {
          settle();
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        if (waiter.check()) return; // a position moved without telling the waiters
        const { status } = behind()!;
        waiter.fail(
          new ProjectionWaitTimeoutError(
            status.name,
            position,
            status.position,
            timeoutMs,
            status.failures > 0 ? status.lastError : undefined,
          ),
        );
      }, timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
    });
  }

  /** Every change of a projection's position goes through here: waitFor() hears of it. */
  private moveTo(run: Running, position: number): void {
    run.status.position = position;
    if (this.waiters.size > 0) this.moved();
  }

  /** Tells the waiters that a position moved (or a rebuild's reset ended). */
  private moved(): void {
    for (const waiter of [...this.waiters]) waiter.check();
  }

  status(): ProjectionStatus[] {
    return [...this.running.values()].map((run) => ({
      ...run.status,
      ...(run.status.failingAt && { failingAt: { ...run.status.failingAt } }),
      behindMs: behindMs(run),
    }));
  }

  /**
   * Rebuilds the named projection from the start of the log: stops it after the event in
   * flight, moves its checkpoint back to 0, empties its read model (`Projection.reset`), and
   * starts it again; resolves once it has started over. `status()` shows `rebuilding` (and the
   * progress) until it has caught up: `whenCaughtUp(name)` resolves then, and `probe()` reports
   * it as catching up meanwhile. The checkpoint goes back before the read model is emptied, so
   * a crash in between replays the log over the old rows (which `apply` ignores, being
   * idempotent) instead of resuming over an emptied read model; rebuild again then. A second
   * call while one is in progress returns the first.
   * @throws Error when there is no such projection, when it has no `reset`, or after stop();
   *   the error of `checkpoints.reset` or `reset`, after which the projection goes on from its
   *   checkpoint as stored
   */
  rebuild(name: string): Promise<void> {
    const run = this.running.get(name);
    if (!run) return Promise.reject(new Error(`ProjectionRunner: no projection ${name}`));
    const { projection } = run;
    if (typeof projection.reset !== 'function')
      return Promise.reject(
        new Error(
          `ProjectionRunner: projection ${name} has no reset(): a rebuild replays the log into ` +
            'an empty read model, so the projection must be able to empty it',
        ),
      );
    if (this.stopped) return Promise.reject(new Error('ProjectionRunner: stopped'));
    if (run.rebuild) return run.rebuild;
    // From now on whenCaughtUp() and waitFor() wait for the rebuild.
    if (run.status.caughtUp) Object.assign(run, deferred());
    Object.assign(run.status, { caughtUp: false, rebuilding: true });
    run.resetting = true;
    run.rebuild = (async () => {
      run.halted = true;
      run.wake?.();
      await run.loop;
      await this.saving.get(name);
      try {
        await this.options.checkpoints.reset(name);
        await projection.reset!();
        Object.assign(run.status, { position: 0, saved: 0, failures: 0 });
        run.status.failingAt = run.status.lastError = undefined;
        run.lastEventAt = run.pendingAt = undefined;
        run.atEnd = false;
      } catch (error) {
        run.status.rebuilding = false;
        throw error;
      } finally {
        run.resetting = false;
        run.halted = false;
        this.moved();
        if (!this.stopped) this.launch(run);
      }
    })().finally(() => (run.rebuild = undefined));
    return run.rebuild;
  }

  /**
   * Gives up on the event the named projection is failing on (`status().failingAt`) and goes
   * on with the next, at once (a backoff in progress is cut short); `onSkipped` is told. With
   * `position`, only if that is still the failing event's position, so that an operator skips
   * the event they looked at and no other.
   * @returns the event given up on
   * @throws Error when there is no such projection, or it is not failing on an event (at
   *   `position`)
   */
  skip(name: string, position?: number): SkippedEvent {
    const run = this.running.get(name);
    if (!run) throw new Error(`ProjectionRunner: no projection ${name}`);
    const failing = run.status.failingAt;
    if (!failing || (position !== undefined && failing.position !== position))
      throw new Error(
        `ProjectionRunner: projection ${name} is not failing on ` +
          (position === undefined ? 'an event' : `the event at position ${position}`) +
          (failing ? ` (it fails at position ${failing.position})` : ''),
      );
    run.skipAsked = true;
    run.wake?.();
    return { ...failing };
  }

  /**
   * Unhealthy while a projection has not caught up once since it started (its read model is
   * behind the log: put it behind readiness), has failed `unhealthyAfterFailures` times in a
   * row, or failed to save its checkpoint as many times in a row (until a save succeeds); the
   * error names each such projection.
   */
  probe(name = 'projections'): HealthProbe {
    const limit = this.options.unhealthyAfterFailures ?? 3;
    return {
      name,
      check: async () => {
        const problems = this.status().flatMap((status) => [
          ...(status.caughtUp
            ? []
            : [
                `${status.name} is ${status.rebuilding ? 'rebuilding' : 'catching up'} ` +
                  `(at ${status.position})`,
              ]),
          ...(status.failures >= limit
            ? [`${status.name} failed ${status.failures} times in a row: ${status.lastError}`]
            : []),
          ...(status.saveFailures >= limit
            ? [
                `${status.name} failed to save its checkpoint ${status.saveFailures} times in a ` +
                  `row: ${status.lastSaveError}`,
              ]
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
      warn(
        projection,
        `projection ${projection} failed after position ${status?.position ?? 0} ` +
          `(${status?.failures ?? 1} failure(s) in a row): ${describeError(error)}. It retries from ` +
          'there with backoff; status() and probe() name it',
      );
    };
  }

  /** The default report of skipped events (see ProjectionRunnerOptions.onSkipped). */
  private warnOfSkips(): (skipped: SkippedEvent, error: unknown, projection: string) => void {
    const warn = throttledWarning({
      type: PROJECTION_WARNING,
      code: 'CAUSEWAY_PROJECTION_SKIPPED',
    });
    return (skipped, error, projection) =>
      warn(
        projection,
        `projection ${projection} gave up on the event at position ${skipped.position}` +
          (skipped.streamId === undefined
            ? ''
            : ` (stream ${skipped.streamId}, version ${skipped.version}, type ${skipped.type})`) +
          ` after ${skipped.attempts} attempt(s): ${describeError(error)}. Its read model lacks ` +
          'that event',
      );
  }

  /**
   * Stops every projection after the event in flight and saves its checkpoint. Called by one of
   * its projections' `apply` ("read until X, then stop"), it resolves at once: the runner stops
   * once that apply returns (its event counts as applied).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiter of [...this.waiters]) waiter.fail(new Error('ProjectionRunner: stopped'));
    for (const run of this.running.values()) run.wake?.();
    const stopping = this.finishStop();
    const inside = applyingNow.getStore();
    // The loops wait for that apply: waiting for them here would never end.
    if (inside?.owner === this && inside.running) return;
    await stopping;
  }

  private async finishStop(): Promise<void> {
    await Promise.all([...this.running.values()].map((run) => run.rebuild?.catch(() => {})));
    await Promise.all([...this.running.values()].map((run) => run.loop));
    for (const run of this.running.values())
      if (!run.status.caughtUp)
        run.stoppedFirst(
          new Error(`ProjectionRunner: stopped before ${run.projection.name} caught up`),
        );
    this.unwatch();
  }

  /** Runs the loop of `run` in the background; it never rejects (failures are reported). */
  private launch(run: Running): void {
    run.loop = this.loop(run).catch((error: unknown) => this.report(error, run.projection.name));
  }

  private ended(run: Running): boolean {
    return this.stopped || run.halted === true;
  }

  private async loop(run: Running): Promise<void> {
    const { projection, status } = run;
    const interval = this.options.checkpointIntervalMs ?? 1_000;
    const progressEvery = this.options.progressIntervalMs ?? 10_000;
    let attempt = 0;
    const failed = (error: unknown) => {
      status.failures += 1;
      status.lastError = (error as Error)?.message ?? String(error);
      this.metrics.failed(projection.name);
      this.report(error, projection.name);
    };
    // The saved checkpoint, read until that works.
    for (;;) {
      if (this.ended(run)) return;
      try {
        status.saved = await this.options.checkpoints.load(projection.name);
        this.moveTo(run, status.saved);
        break;
      } catch (error) {
        failed(error);
        await this.pause(run, ++attempt);
      }
    }
    let progressAt = Date.now() + progressEvery;
    while (!this.ended(run)) {
      if (run.skipAsked) {
        run.skipAsked = false;
        if (status.failingAt) {
          await this.giveUp(run, new Error('skipped by an operator'));
          attempt = 0;
          // stop() or rebuild() may have come during that save, finding nothing to wake.
          continue;
        }
      }
      let failure: { error: unknown; event?: StoredEvent } | undefined;
      let applying: StoredEvent | undefined;
      let ended = () => {};
      const end = new Promise<void>((resolve) => (ended = resolve));
      const subscription = this.options.eventStore.subscribe({
        fromPosition: status.position,
        types: projection.types ? [...projection.types] : undefined,
        limit: this.options.batchSize,
        pollIntervalMs: this.options.pollIntervalMs,
        handler: async (event) => {
          applying = event;
          // Kept from the first attempt when the event failed before (the same event again).
          if (run.pendingAt === undefined) {
            const at = Date.parse(event.metadata?.timestamp);
            if (Number.isFinite(at)) run.pendingAt = at;
          }
          const started = performance.now();
          // One token per call, cleared when apply returns (see stop).
          const token = { owner: this, running: true };
          try {
            await applyingNow.run(token, () => projection.apply(event));
          } finally {
            token.running = false;
          }
          this.metrics.applied(projection.name, (performance.now() - started) / 1000);
          applying = undefined;
          run.pendingAt = undefined;
          status.applied += 1;
          status.failures = 0;
          status.failingAt = undefined;
          const at = Date.parse(event.metadata?.timestamp);
          if (Number.isFinite(at)) run.lastEventAt = at;
          run.atEnd = false;
          attempt = 0;
          this.moveTo(run, Math.max(status.position, event.position));
        },
        onCaughtUp: (position) => {
          if (run.halted) return; // rebuild() has begun: this end of the log is not its end
          this.moveTo(run, position);
          status.failures = 0;
          status.failingAt = undefined;
          run.atEnd = true;
          attempt = 0;
          if (!status.caughtUp) {
            status.caughtUp = true;
            status.rebuilding = false;
            run.markCaughtUp();
          }
          if (position > status.saved) void this.save(run);
        },
        onError: (error) => {
          failure = { error, event: applying };
          ended();
        },
      });
      run.subscription = subscription;
      const timer = setInterval(() => {
        this.moveTo(run, subscription.position);
        if (status.position > status.saved) void this.save(run);
        if (!status.caughtUp && Date.now() >= progressAt) {
          progressAt = Date.now() + progressEvery;
          try {
            this.options.onProgress?.(this.status().find((s) => s.name === projection.name)!);
          } catch {
            // a failing progress report (a log sink) does not stop the projection
          }
        }
      }, interval);
      run.wake = ended;
      await end;
      clearInterval(timer);
      await subscription.stop();
      this.moveTo(run, subscription.position);
      run.wake = undefined;
      if (failure) {
        const failing = this.failingEvent(run, failure.error, failure.event);
        failed(failure.error);
        if (failing && failing.attempts >= (this.options.maxAttempts ?? Infinity)) {
          await this.giveUp(run, failure.error);
          attempt = 0;
          continue;
        }
        await this.save(run);
        await this.pause(run, ++attempt);
      }
    }
    await this.save(run);
  }

  /**
   * Records the event a failure is about: the one being applied, or the one the store could
   * not read (its error names the position; see locateReadError). Attempts count per event.
   */
  private failingEvent(
    run: Running,
    error: unknown,
    event?: StoredEvent,
  ): SkippedEvent | undefined {
    const facts = (event ?? error) as Partial<StoredEvent> | undefined;
    const position = facts?.position;
    if (typeof position !== 'number' || position <= run.status.position) {
      run.status.failingAt = undefined;
      return undefined;
    }
    const previous = run.status.failingAt;
    run.status.failingAt = {
      position,
      ...(facts!.streamId !== undefined && { streamId: facts!.streamId }),
      ...(facts!.version !== undefined && { version: facts!.version }),
      ...(facts!.type !== undefined && { type: facts!.type }),
      ...(facts!.messageId !== undefined && { messageId: facts!.messageId }),
      attempts: previous?.position === position ? previous.attempts + 1 : 1,
    };
    return run.status.failingAt;
  }

  /** Goes on after the failing event: the checkpoint moves to its position. */
  private async giveUp(run: Running, error: unknown): Promise<void> {
    const skipped = run.status.failingAt!;
    run.status.failingAt = run.pendingAt = undefined;
    run.status.skipped += 1;
    run.status.failures = 0;
    this.metrics.skipped(run.projection.name);
    this.moveTo(run, Math.max(run.status.position, skipped.position));
    try {
      this.reportSkip(skipped, error, run.projection.name);
    } catch {
      // a throwing report does not stop the projection
    }
    await this.save(run);
  }

  private saving = new Map<string, Promise<void>>();

  /**
   * Saves the projection's position, one save at a time per projection: each call is chained
   * after the previous one and reads the position when its turn comes, so awaiting the chain's
   * tail (`saving`) waits for every save asked for so far (rebuild() relies on it).
   */
  private save(run: Running): Promise<void> {
    const name = run.projection.name;
    const next = (this.saving.get(name) ?? Promise.resolve()).then(async () => {
      const position = run.status.position;
      if (position <= run.status.saved) return;
      try {
        await this.options.checkpoints.save(name, position);
        run.status.saved = Math.max(run.status.saved, position);
        run.status.saveFailures = 0;
      } catch (error) {
        run.status.saveFailures += 1;
        run.status.lastSaveError = (error as Error)?.message ?? String(error);
        this.metrics.failed(name);
        this.report(error, name);
      }
    });
    this.saving.set(name, next);
    return next;
  }

  /** Waits the backoff of `attempt` (cut short by stop(), rebuild() or skip(); not begun after them). */
  private pause(run: Running, attempt: number): Promise<void> {
    if (this.ended(run) || run.skipAsked) return Promise.resolve();
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

/**
 * ProjectionStatus.behindMs: the age of the event `apply` has not applied yet, if any (stuck on
 * it, the projection is behind the log even after it had reached its end), else of the last one
 * applied while the end of the log has not come after it.
 */
function behindMs(run: Running): number {
  const at = run.pendingAt ?? (run.atEnd ? undefined : run.lastEventAt);
  return at === undefined ? 0 : Math.max(0, Date.now() - at);
}

/**
 * Refuses, at start(), a projection the loop could only fail on in the background: a name the
 * checkpoint store refuses (retried for ever), types the subscription refuses (the loop died
 * after one warning), a string as types (spread into one-letter types: nothing applied).
 */
function checkProjection(projection: Projection): void {
  const refuse = (field: string, expected: string, value: unknown): never => {
    throw new TypeError(
      `ProjectionRunner.start: projection${field} must be ${expected}, got ${shownValue(value)}`,
    );
  };
  if (typeof projection !== 'object' || projection === null) refuse('', 'an object', projection);
  const { name, apply, types, reset } = projection;
  if (typeof name !== 'string' || name.length === 0) refuse('.name', 'a non-empty string', name);
  if (typeof apply !== 'function') refuse('.apply', 'a function', apply);
  if (reset !== undefined && typeof reset !== 'function') refuse('.reset', 'a function', reset);
  if (types === undefined) return;
  if (!Array.isArray(types)) refuse('.types', 'an array of type names or message types', types);
  const wrong = types.findIndex((type) => typeof type !== 'string' && !isMessageType(type));
  if (wrong >= 0)
    throw new TypeError(
      'ProjectionRunner.start: projection.types must be an array of type names or message ' +
        `types, got ${shownValue(types[wrong])} at index ${wrong}`,
    );
}

/** A promise settled from outside: caught-up, or stopped first. */
function deferred(): Pick<Running, 'caughtUp' | 'markCaughtUp' | 'stoppedFirst'> {
  let markCaughtUp = () => {};
  let stoppedFirst: (error: Error) => void = () => {};
  const caughtUp = new Promise<void>((resolve, reject) => {
    markCaughtUp = resolve;
    stoppedFirst = reject;
  });
  // Rejected only for callers of whenCaughtUp: not an unhandled rejection when none waits.
  caughtUp.catch(() => undefined);
  return { caughtUp, markCaughtUp, stoppedFirst };
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
