import { DeferredError, type Envelope } from '@causeway/cqrs-core';
import { TRAINER_MOVED_EVENT, type TrainerMovedEvent } from '@causeway/contracts';
import { DEFAULT_LOG_RETENTION_MS, PositionNotifier } from '@causeway/platform';
import {
  DEFAULT_REBUILD_NOTIFY_HORIZON_MS,
  type ProjectionModuleOptions,
} from './projection.module-options';
import {
  type CatchUpProgress,
  type LostCheckpoint,
  ReadModelsCatchUp,
  type SkippedEvent,
} from './read-models.catch-up';
import { NotifiedMoves } from './moves.notified';
import { ReadModelsProjector } from './read-models.projector';

/**
 * The projection of the live trainer flow: at start it catches the read models up from the event
 * store, then keeps them live from the event bus; a periodic catch-up keeps the checkpoint moving
 * (and repairs anything the bus lost) so the next start has little to replay.
 *
 * It notifies every TrainerMovedEvent it reads, live or in a catch-up, whose notification is not
 * in the log yet (the eager path of trainer-service may have been first), unless the move is
 * older than `notifyHorizonMs` (ADR 007, session 9), or, in a rebuild, than
 * `rebuildNotifyHorizonMs` (session 14). "Applied to the read models" is not
 * "notified": the moves made while the worker was down, or while the eager path was off, are
 * caught up and still need their notification, and their live redelivery must not be taken for
 * history. The log keeps one entry per event, and keeps each trainer's moves in version order
 * (a late older one is dropped, never appended after a newer one).
 *
 * Live events that arrive before the first catch-up finished are deferred (the transport
 * redelivers them): the catch-up notifies the backlog in event order, each with the membership
 * of its time, before any of them is notified from the bus.
 *
 * So are live events once the read models were lost (session 29): before handling a live event
 * it loads the checkpoint, which lives with them (one HGET); gone back below what it saved (a
 * FLUSHALL, a Redis back empty), the read models are no longer caught up, and a move would be
 * addressed to the empty GroupMembers (its group never gets it, and no rebuild or resume
 * repairs that entry). It defers the event, tells `onLost`, and runs the catch-up at once (it
 * rebuilds: the checkpoint went back), not at the next interval; live events flow again once it
 * has caught up. A periodic run that finds the loss first does the same. So does finding the
 * rebuild mark of another instance over the same Redis (session 37): its rebuild is unfinished,
 * and may have saved a checkpoint past this instance's; this one then rebuilds from there too,
 * forgetting what it had applied before the loss.
 */
export class ProjectionRunner {
  private readonly projector: ReadModelsProjector;
  private readonly notifier: PositionNotifier;
  /** The moves known notified: a periodic run notifies the others it reads (see NotifiedMoves). */
  private readonly notifiedMoves = new NotifiedMoves();
  private readonly catchUp: ReadModelsCatchUp;
  private readonly horizonMs: number;
  private readonly rebuildHorizonMs: number;
  private caughtUp = false;
  /** Why the read models are not caught up, while they are not (the first catch-up or a loss). */
  private catchingUp = 'the read models are catching up from the event store';
  /** How far the run catching them up has come (CatchUpProgress), while they are not caught up. */
  private progress: CatchUpProgress | undefined;
  /** Why the last run failed, while they are not caught up: the stores, an event it cannot apply. */
  private failure: string | undefined;
  private stopped = false;
  /** Aborted by stop(): a catch-up read in flight is not waited for (its result is discarded). */
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  /** A catch-up run after the first is in flight. */
  private inFlight = false;
  /** A loss was noticed while a run was in flight that had not seen it: run again after it. */
  private again = false;
  /** Catch-up runs failed in a row since the read models were caught up. */
  private failures = 0;
  /** start() finished its first catch-up: later runs are periodic ones (catchUpRun). */
  private started = false;

  constructor(
    private readonly options: ProjectionModuleOptions & {
      onError?: (error: unknown) => void;
      onCaughtUp?: (events: number) => void;
      onSkipped?: (skipped: SkippedEvent, error: unknown) => void;
      onProgress?: (progress: CatchUpProgress) => void;
      /** Told once per loss of the read models noticed (by a live event or a catch-up run). */
      onLost?: (lost: LostCheckpoint & { noticedBy: string }) => void;
    },
  ) {
    this.projector = new ReadModelsProjector(options.positions, options.groups);
    this.notifier = new PositionNotifier(options.groups, options.notifications, options.serverId);
    this.horizonMs = options.notifyHorizonMs ?? DEFAULT_LOG_RETENTION_MS;
    this.rebuildHorizonMs = Math.min(
      this.horizonMs,
      options.rebuildNotifyHorizonMs ?? DEFAULT_REBUILD_NOTIFY_HORIZON_MS,
    );
    this.catchUp = new ReadModelsCatchUp({
      eventStore: options.eventStore,
      checkpoints: options.checkpoints,
      projector: this.projector,
      name: options.checkpointName ?? 'projection-worker.read-models',
      maxAttempts: options.maxAttempts,
      onSkipped: options.onSkipped,
      onProgress: (progress) => {
        this.progress = progress;
        options.onProgress?.(progress);
      },
      // The run rebuilds from there: no run after it is needed for this loss.
      onLost: (lost) => this.lose(lost, 'a catch-up run', false),
    });
  }

  get isCaughtUp(): boolean {
    return this.caughtUp;
  }

  /**
   * Why live events are deferred, undefined once the read models are caught up: they are catching
   * up from the event store at start, or being rebuilt after a loss; with how far the run has come
   * and why the last one failed. The `read-models` readiness probe fails with it: an instance
   * whose read models lag the store (a first start over a long log, a rebuild) is not ready.
   */
  notCaughtUp(): string | undefined {
    if (this.caughtUp) return undefined;
    const where = this.progress
      ? `: ${this.progress.events} events applied, at position ${this.progress.position}`
      : '';
    const failed = this.failure !== undefined ? `; the last run failed: ${this.failure}` : '';
    return `${this.catchingUp}${where}${failed}`;
  }

  /** Waits for `ready`, runs the first catch-up (retrying until it succeeds), then the periodic one. */
  async start(): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await this.options.ready?.().catch((error: unknown) => {
          throw new StoresNotReadyError(error);
        });
        // Every move read, applied now or not: a previous incarnation may have applied a move to
        // the read model and died before notifying it (the log answers the others in one GET).
        const events = await (this.running = this.catchUp.run(
          (event, _applied, rebuilding) => this.notified(event, rebuilding),
          this.abort.signal,
        ));
        if (this.stopped) return;
        this.markCaughtUp();
        this.options.onCaughtUp?.(events);
        break;
      } catch (error) {
        this.failure = messageOf(error);
        this.options.onError?.(error);
        await sleep(backoff(attempt));
      }
    }
    this.started = true;
    this.schedule();
  }

  /**
   * Runs the periodic catch-up now, as its timer would (the next one is counted from its end),
   * and resolves once that run finished: caught up, failed (told to `onError`, retried as a
   * periodic run is) or left by stop(). A run in flight is awaited instead of a second one
   * started. Lets a caller (a test, an operator's hook) wait for the condition a periodic run
   * brings about instead of for a clock. Rejects before start() finished its first catch-up
   * (that one is the start's, not a periodic run); does nothing once stopped.
   */
  async catchUpNow(): Promise<void> {
    if (this.stopped) return;
    if (!this.started) throw new Error('catchUpNow: start() has not caught the read models up yet');
    if (!this.inFlight) {
      clearTimeout(this.timer);
      this.catchUpRun();
    }
    await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // The catch-up returns at once from a read in flight (on FerretDB a read of a large store
    // takes seconds) and applies nothing more; an apply in progress is awaited.
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  /** A live event from the bus. */
  async handle(event: Envelope): Promise<void> {
    if (!this.caughtUp) throw new DeferredError('the read models are still catching up');
    // Every live event, not only moves: a join applied to lost read models is applied, but the
    // moves after it would still find the group without its other members.
    const lost = await this.catchUp.lost();
    if (lost) this.lose(lost, `a live ${event.type}`, true);
    // Lost (noticed here, or by a run meanwhile): redelivered once the rebuild caught up.
    if (!this.caughtUp) throw new DeferredError('the read models were lost: rebuilding them');
    if (!this.toNotify(event)) {
      await this.projector.apply(event);
      return;
    }
    // Independent writes (a move changes no membership), so both at once: a redelivery after
    // either failed repeats both, and each is idempotent.
    await Promise.all([this.projector.apply(event), this.notify(event)]);
  }

  /** Appends the move's notification (unless the log has it), and knows it notified then. */
  private async notify(event: Envelope): Promise<void> {
    await this.notifier.notify(event as Envelope<TrainerMovedEvent>);
    this.notifiedMoves.add(event);
  }

  /**
   * Notifies a move a catch-up read (and applied), if it is to be notified. A rebuild (no
   * checkpoint, or one that went back: a first start on an existing store, or a Redis that lost
   * the read models, the checkpoint and the notification log together) notifies only moves
   * younger than `rebuildNotifyHorizonMs`: the log that knew what was notified is gone, and the
   * clients had those moves long ago; they get the current positions from the read models
   * (`/api/positions`, the gateway's `recovery`).
   */
  private async notified(event: Envelope, rebuilding: boolean): Promise<void> {
    if (this.toNotify(event, rebuilding ? this.rebuildHorizonMs : this.horizonMs))
      await this.notify(event);
  }

  /**
   * Whether a projected event gets a notification: a move not older than the horizon. Older
   * ones are left out so that a worker back after a long outage (or rebuilding lost read models)
   * does not send clients hours of stale moves; the horizon is at most the log's retention, its
   * dedup window, so a move notified before is still recognised and never appended twice.
   */
  private toNotify(event: Envelope, horizonMs = this.horizonMs): boolean {
    if (event.type !== TRAINER_MOVED_EVENT) return false;
    const at = Date.parse(event.metadata.timestamp);
    return !Number.isFinite(at) || Date.now() - at <= horizonMs;
  }

  /**
   * The read models were lost: live events are deferred until a catch-up run rebuilt them, and
   * one is started now (`runNow`), or right after the one in flight. Told once per loss.
   */
  private lose(lost: LostCheckpoint, noticedBy: string, runNow: boolean): void {
    // The notification log lives with the read models: lost with them.
    this.notifiedMoves.clear();
    if (this.caughtUp) {
      this.caughtUp = false;
      this.catchingUp = 'the read models were lost: rebuilding them from the event store';
      this.progress = undefined;
      this.failure = undefined;
      this.options.onLost?.({ ...lost, noticedBy });
    }
    if (!runNow) this.again = false;
    else if (this.inFlight) this.again = true;
    else if (!this.stopped) {
      clearTimeout(this.timer);
      this.catchUpRun();
    }
  }

  private markCaughtUp(): void {
    this.caughtUp = true;
    this.progress = undefined;
    this.failure = undefined;
  }

  private schedule(): void {
    const every = this.options.catchUpIntervalMs ?? 30_000;
    if (this.stopped || every <= 0) return;
    this.timer = setTimeout(() => this.catchUpRun(), every);
  }

  /** A catch-up run after the first: periodic, or after a loss (then retried until caught up). */
  private catchUpRun(): void {
    this.inFlight = true;
    this.again = false;
    // What this run applied, and every move read not known notified (NotifiedMoves): applied
    // is not notified. trainer-service writes a first move through itself, a live delivery may
    // apply a move and fail to notify it before the bus dead-letters it, and a run that failed
    // may have applied moves it did not notify. The live path marks the moves it notified, so
    // in the steady state this costs no look-up (the log answers the others in one GET each).
    this.running = this.catchUp
      .run(
        (event, applied, rebuilding) =>
          applied || !this.notifiedMoves.has(event) ? this.notified(event, rebuilding) : undefined,
        this.abort.signal,
      )
      .then((events) => {
        this.failures = 0;
        if (this.caughtUp || this.again || this.stopped) return;
        this.markCaughtUp();
        this.options.onCaughtUp?.(events);
      })
      .catch((error) => {
        this.failures++;
        if (!this.caughtUp) this.failure = messageOf(error);
        this.options.onError?.(error);
      })
      .finally(() => {
        this.inFlight = false;
        if (this.stopped) return;
        if (this.again) return this.catchUpRun();
        // Lost and not rebuilt yet (the run failed): retried soon, not at the next interval.
        if (!this.caughtUp)
          this.timer = setTimeout(() => this.catchUpRun(), backoff(this.failures));
        else this.schedule();
      });
  }
}

/**
 * `ready` failed at start (retried): the stores' set-up (a connection, collections, indexes), not
 * the catch-up of any event. Its message says so, the failure as its `cause`: a MongoDB user
 * without the createIndexes right read as "catch-up failed: not authorized …", every attempt.
 */
export class StoresNotReadyError extends Error {
  constructor(cause: unknown) {
    super(`the stores are not ready: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'StoresNotReadyError';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function backoff(attempt: number): number {
  return Math.min(10_000, 250 * 2 ** Math.min(attempt, 6));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
