import {
  isFinished,
  ORDER_PLACED,
  OrderPlaced,
  progressNotificationId,
  progressStreamId,
  type ProgressEvent,
  type ProgressStatus,
} from '@causeway/contracts';
import {
  ConcurrencyConflictError,
  type DeadLetterQueue,
  type EventStore,
  MAX_TIMER_MS,
  StreamDeletedError,
} from '@causeway/cqrs-core';
import { type NotificationLog } from '@causeway/platform';
import { type TaskExpiries } from './task-expiries';

/** What TaskExpirer.expire found and did. */
export interface TaskExpiry {
  /** The task's status as stored after the call; undefined: no events. */
  status: ProgressStatus | undefined;
  /**
   * True only when this call stored the FAILED "expired" (and told it). False when the task was
   * left as it is, or when what it would have stored was found stored already (another
   * instance's retention): that one counts it, so an expiry is counted once.
   */
  expired: boolean;
}

/** What ending an order that never started needs of it (its dead letter's OrderPlaced). */
export type UnstartedOrder = Pick<OrderPlaced, 'taskId' | 'userId'>;

/** The part of a dead letter's order read to end it: a letter of another shape is only purged. */
const UnstartedOrder = OrderPlaced.pick({ taskId: true, userId: true });

/** Ends a task that never finished, as a failing step would (OrderProcessor implements it). */
export interface TaskExpirer {
  /**
   * Contract: when the task's stream has events, is not finished (no COMPLETED or FAILED), its
   * last event is older than `idleBefore` (epoch ms) and the expirer is not running that order
   * itself right now (it is alive), stores one FAILED event with `reason`
   * at the version it read — its id stable (`<taskId>:<step>:EXPIRED`, expiredEventId), so
   * instances racing store it once, and apart from the order's own FAILED at that step, so a
   * step stored meanwhile conflicts — and tells it as any stored event is (status,
   * notification, counted): `expired` true. Found stored already (an append that stores
   * nothing), what is stored is told again as found, not counted: its status, `expired` false.
   * Otherwise the task is left as it is (its status; no events: undefined), `expired` false.
   * @throws ConcurrencyConflictError when a step was stored after its read (the task is alive)
   */
  expire(taskId: string, reason: string, idleBefore: number): Promise<TaskExpiry>;
  /**
   * Contract: tells the task's last stored event again, as it was told when stored (its status
   * to the status store, its notification to the user), idempotently; resolves the task's
   * status (undefined: no events). Retention calls it for a task whose index entry is older
   * than its stream's last event: whoever stored that event stopped before it was told and
   * indexed (killed, Redis gone), and — for its own FAILED "expired" — nothing else tells it.
   */
  retell(taskId: string): Promise<ProgressStatus | undefined>;
  /**
   * Contract: when the order's task has no stored event — its order was dead-lettered before its
   * first step and not replayed — stores one FAILED event with `reason` as its first (step 0, 0 %,
   * id `<taskId>:0:EXPIRED`, expected no stream) and tells it as any stored event is (status,
   * notification, counted): true. False, storing nothing, when the task has events (a delivery
   * or replay stored one, found so or by the append's conflict) or its stream was deleted.
   */
  expireUnstarted(order: UnstartedOrder, reason: string): Promise<boolean>;
}

/** What one retention run did. */
export interface ProgressRetentionRun {
  /** Streams of finished tasks hard-deleted (instances racing on one may each count it). */
  deleted: number;
  /**
   * Unfinished tasks this instance ended FAILED ("expired"), deleted at a run one TTL later;
   * instances racing on one count it once (the one whose FAILED was stored). Orders purged from
   * the dead letters that never started, ended FAILED before, count here too.
   */
  expired: number;
  /** The order topic's dead letters purged, dead-lettered more than the TTL ago. */
  deadLetters: number;
  /**
   * Due tasks this run could not retire (an event that no longer decodes, a store error for
   * that stream, a change conflicting on every attempt): each is reported through onTaskError
   * and tried again at the run one interval later, behind the others, which the run goes on with.
   * Dead letters whose order could not be looked at or ended count here too: each is kept,
   * reported with its order's task id and tried again at the next run.
   */
  failed: number;
  /**
   * Due tasks left as they are this run because this instance is running their order now (it
   * is alive, whatever its last event's age): looked at once a run, retired at a later run.
   */
  skipped: number;
}

export interface ProgressRetentionOptions {
  store: EventStore;
  expiries: TaskExpiries;
  /** Ends the tasks found unfinished (the app's OrderProcessor). */
  expirer: TaskExpirer;
  /**
   * The log OrderProcessor appends the tasks' `progress.update` notifications to: a deleted
   * task's are removed from it too, so that no copy of its history outlives the TTL when the
   * log is kept longer (NOTIFICATION_LOG_RETENTION_MS). Omitted: the log is left alone.
   */
  notifications?: Pick<NotificationLog, 'idOf' | 'remove'>;
  /**
   * The queue order-processor dead-letters orders into (its DEAD_LETTER_QUEUE) and the order
   * topic: a letter holds the order (user id, items), so each run purges the topic's letters
   * dead-lettered more than `ttlMs` ago (SPEC S3-7). Not earlier: the runbook replays a letter
   * within the TTL of the order's last step, which is never after its dead-lettering. An order
   * among them that never started (no stored event) is first ended FAILED through `expirer`
   * (expireUnstarted), so its user is told, as for a task stopped half-way. Omitted: the letters
   * are left alone.
   */
  deadLetters?: { queue: Pick<DeadLetterQueue, 'purge' | 'list'>; topic: string };
  /**
   * PROGRESS_HISTORY_TTL_MS: a finished task whose last event is older than this is deleted;
   * an unfinished one is ended FAILED first.
   */
  ttlMs: number;
  /** Default 60 s. */
  intervalMs?: number;
  /** Epoch ms now. Default Date.now. */
  now?: () => number;
  /** After each run: what it deleted and expired. */
  onRun?: (run: ProgressRetentionRun) => void;
  /** A failed run is reported and tried again at the next interval. */
  onError?: (error: unknown) => void;
  /**
   * A due task the run could not retire (counted in `failed`): the error is reported with its
   * task id; the task is tried again at the run `intervalMs` later and the run goes on with the others.
   * Likewise a dead letter whose order could not be ended (its task id; the letter's id when
   * it holds no order): the letter is kept until a run ends the order.
   */
  onTaskError?: (taskId: string, error: unknown) => void;
}

/** The default time between two runs. */
const DEFAULT_INTERVAL_MS = 60_000;

/** Tasks looked at per batch of a run. */
const BATCH = 100;

/**
 * How far out of order the order topic's dead letters may be stamped (`deadLetteredAt`, by the
 * clock of the instance that dead-lettered each): retention stops reading them at the first one
 * stamped this much after its cutoff.
 */
const DEAD_LETTER_DISORDER_MS = 5 * 60_000;

/** A task's conflicting changes retried in one run before the run gives up on it (reported). */
const ATTEMPTS = 3;

/**
 * S3-7: hard-deletes the streams of tasks whose last event is older than the TTL. The
 * cqrs-core RetentionJob cuts events by age, a stream prefix at a time, which could leave a task
 * half-deleted (its STARTED gone, its COMPLETED kept); this deletes a task whole, once its last
 * event is old. Candidates come from TaskExpiries; each is checked against its stream's last
 * event first (a newer one, e.g. stored by another instance, moves it forward instead).
 *
 * Only a finished task is deleted (ADR 015, session 39). One whose last event is old but is no
 * COMPLETED or FAILED — an order dead-lettered half-way and not replayed in time — is ended
 * first: `expirer` stores FAILED "expired: …" and tells the user, and that event's own age
 * makes the task due again one TTL later, when it is deleted as any finished task. Deleting
 * it silently lost an acknowledged order: the replay met the tombstone and stored nothing.
 *
 * Several instances may run it at once (there is no lease): the FAILED is appended at the
 * version read with a stable id, and the delete is made at the version read, so a step a
 * replay stores meanwhile is never deleted nor followed by an expiry (a conflict: the task is
 * looked at again). A hard delete leaves a tombstone: an order delivered after its task was
 * deleted appends nothing, and OrderProcessor reports it (onExpired). Runs never overlap within
 * an instance; `stop()` waits.
 */
export class ProgressRetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ProgressRetentionRun> | undefined;
  private readonly now: () => number;

  /** @throws TypeError naming `intervalMs` when it is not a delay a timer can wait */
  constructor(private readonly options: ProgressRetentionOptions) {
    const interval = options.intervalMs;
    if (
      interval !== undefined &&
      !(Number.isInteger(interval) && interval > 0 && interval <= MAX_TIMER_MS)
    )
      throw new TypeError(
        `ProgressRetentionJob: intervalMs must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, got ${interval}`,
      );
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(
      () => void this.runOnce(),
      this.options.intervalMs ?? DEFAULT_INTERVAL_MS,
    );
    this.timer.unref();
  }

  /** One run now (or the one in progress); resolves with what it did (a failed run: nothing). */
  async runOnce(): Promise<ProgressRetentionRun> {
    this.running ??= this.run()
      .then(
        (run) => {
          this.options.onRun?.(run);
          return run;
        },
        (error: unknown) => {
          this.options.onError?.(error);
          return { deleted: 0, expired: 0, deadLetters: 0, failed: 0, skipped: 0 };
        },
      )
      .finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async run(): Promise<ProgressRetentionRun> {
    const { expiries, ttlMs } = this.options;
    const cutoff = this.now() - ttlMs;
    const run = { deleted: 0, expired: 0, deadLetters: 0, failed: 0, skipped: 0 };
    run.deadLetters = await this.purgeDeadLetters(cutoff, run);
    // Tasks this run looked at and left due (their order runs here): a page lists them again,
    // so each page asks for that many more and skips them. Re-read, a page of BATCH or more
    // of them made the run spin for as long as their orders ran.
    const left = new Set<string>();
    for (;;) {
      const limit = BATCH + left.size;
      const due = await expiries.due(cutoff, limit);
      const fresh = due.filter((taskId) => !left.has(taskId));
      for (const taskId of fresh) {
        try {
          const outcome = await this.retireRetrying(taskId, cutoff);
          if (outcome) run[outcome]++;
          if (outcome === 'skipped') left.add(taskId);
        } catch (error) {
          // One task that cannot be retired (an event that no longer decodes, a store error for
          // its stream) must not stop every other: it stays at the head of the oldest-first due
          // list, so failing the run kept all of them for good. Reported, moved behind the ones
          // due now (to just before the cutoff of the run one interval later: out of this run,
          // due at that one) and tried again then. An index that cannot be written fails the
          // run, as before.
          const retryAt = cutoff + (this.options.intervalMs ?? DEFAULT_INTERVAL_MS) - 1;
          await expiries.touch(taskId, retryAt);
          run.failed++;
          this.options.onTaskError?.(taskId, error);
        }
      }
      if (due.length < limit || fresh.length === 0) return run;
    }
  }

  /** retire, tried again when its task changed since it was read (up to ATTEMPTS times). */
  private async retireRetrying(
    taskId: string,
    cutoff: number,
  ): Promise<'deleted' | 'expired' | 'skipped' | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.retire(taskId, cutoff);
      } catch (error) {
        // Changed since read (a replay stored a step, another instance deleted it): anew.
        const raced = error instanceof ConcurrencyConflictError;
        if (!raced || attempt === ATTEMPTS) throw error;
      }
    }
  }

  /**
   * One due task: told again and moved forward (a newer event), ended FAILED (old and unfinished), deleted
   * (old and finished) or forgotten (no stream). Every way out takes it off the due list, but one:
   * an unfinished task whose order this instance runs now is left due ("skipped").
   */
  private async retire(
    taskId: string,
    cutoff: number,
  ): Promise<'deleted' | 'expired' | 'skipped' | undefined> {
    const { store, expiries, expirer, ttlMs } = this.options;
    const streamId = progressStreamId(taskId);
    const [last] = await store.readStream(streamId, { direction: 'backwards', limit: 1 });
    if (!last) {
      // A tombstone without events may be a delete whose process died before stripping them:
      // they are out of the stream's reads but still in the log (readAll, the database). The
      // store's hard delete, made again, finishes it (EventStore.deleteStream).
      if ((await store.streamInfo(streamId)).state === 'tombstoned')
        await store.deleteStream(streamId, { mode: 'hard' });
      await expiries.forget(taskId);
      return undefined;
    }
    const event = last.data as ProgressEvent;
    const lastAt = Date.parse(event.timestamp);
    if (lastAt >= cutoff) {
      // The index is behind the stream: the event's writer stopped before telling and indexing
      // it (the expiry tells first, then indexes). Told again here, then indexed.
      await expirer.retell(taskId);
      await expiries.touch(taskId, lastAt);
      return undefined;
    }
    if (!isFinished({ status: event.eventType })) {
      const reason = expiredReason(ttlMs);
      const { status, expired } = await expirer.expire(taskId, reason, cutoff);
      // Its FAILED (or a newer event) is young: due again one TTL after it.
      if (!status) {
        await expiries.forget(taskId);
        return undefined;
      }
      const at = Date.parse(status.updatedAt);
      await expiries.touch(taskId, at);
      if (expired) return 'expired';
      // Still due: left alone, its order running here (TaskExpirer's contract).
      return at < cutoff ? 'skipped' : undefined;
    }
    await this.forgetNotifications(streamId);
    try {
      await store.deleteStream(streamId, { mode: 'hard', expectedVersion: last.version });
    } catch (error) {
      // Deleted by another instance between the read and here: nothing left to do.
      if (!(error instanceof StreamDeletedError)) throw error;
    }
    await expiries.forget(taskId);
    return 'deleted';
  }

  /**
   * Purges the order topic's letters dead-lettered before `cutoff` (first, so a task that keeps
   * failing does not keep them). Every instance may purge at once: a letter is counted by the
   * one whose delete removed it.
   *
   * Reads the letters in list order (the order they were dead-lettered in) and stops at the first
   * one dead-lettered DEAD_LETTER_DISORDER_MS or more after the cutoff: the younger ones behind it
   * are not read. Filtering the whole queue by `deadLetteredBefore` read every letter of the
   * topic — on Redis the whole stream, twice (list, then purge) — at every run, however few were
   * due (a review, session 43). A letter stamped more than DEAD_LETTER_DISORDER_MS before one
   * listed ahead of it (an instance's clock that far behind another's) is purged that much later.
   */
  private async purgeDeadLetters(
    cutoff: number,
    run: { expired: number; failed: number },
  ): Promise<number> {
    const letters = this.options.deadLetters;
    if (!letters) return 0;
    const filter = {
      originalTopic: letters.topic,
      deadLetteredBefore: new Date(cutoff).toISOString(),
    };
    // An order dead-lettered before its first step has no stream: nothing else would ever tell
    // its user, whose ACCEPTED status expires with the TTL (then 404). Ended FAILED before its
    // letter goes. A letter whose order cannot be looked at or ended (its stream no longer
    // decodes, a store error for it) is reported as a due task is (onTaskError, `failed`) and
    // kept for the next run: failing the run for it stopped every letter's purge and every
    // task's retention for good. The letters handled are purged by id, a page at a time, the
    // purge reading from where that page's list did.
    const reason = unstartedReason(this.options.ttlMs);
    let purged = 0;
    for (let after: string | undefined; ;) {
      const from = after && { after };
      const page = await letters.queue.list({
        originalTopic: letters.topic,
        limit: BATCH,
        ...from,
      });
      const handled: string[] = [];
      let young = false;
      for (const letter of page) {
        const at = Date.parse(letter.deadLetteredAt);
        if (at >= cutoff + DEAD_LETTER_DISORDER_MS) {
          young = true;
          break;
        }
        // Younger than the cutoff, or no date-time (never purged by age): kept.
        if (!(at < cutoff)) continue;
        const order =
          letter.envelope?.type === ORDER_PLACED
            ? UnstartedOrder.safeParse(letter.envelope.data)
            : undefined;
        try {
          if (order?.success && (await this.options.expirer.expireUnstarted(order.data, reason)))
            run.expired++;
          handled.push(letter.id);
        } catch (error) {
          run.failed++;
          this.options.onTaskError?.(order?.success ? order.data.taskId : letter.id, error);
        }
      }
      if (handled.length > 0)
        purged += await letters.queue.purge({
          ...filter,
          ids: handled,
          limit: handled.length,
          ...from,
        });
      if (young || page.length < BATCH) return purged;
      after = page[page.length - 1]!.id;
    }
  }

  /**
   * Removes the `progress.update` notifications of a finished task's events from the log, before
   * its stream is deleted (a crash in between leaves a stream to delete at the next run, not a
   * copy no run finds again). The log keeps its entries NOTIFICATION_LOG_RETENTION_MS, shared
   * with the moves: when that is longer than PROGRESS_HISTORY_TTL_MS, the task's events, user
   * id and failure reason stayed there after its history was deleted (SPEC S3-7).
   */
  private async forgetNotifications(streamId: string): Promise<void> {
    const log = this.options.notifications;
    if (!log) return;
    const events = await this.options.store.readStream(streamId);
    const ids = await Promise.all(
      events.map((stored) =>
        log.idOf(progressNotificationId((stored.data as ProgressEvent).eventId)),
      ),
    );
    const logged = ids.filter((id): id is string => id !== undefined);
    if (logged.length > 0) await log.remove(logged);
  }
}

/** The FAILED reason the user sees for an order that stopped half-way and was never resumed. */
export function expiredReason(ttlMs: number): string {
  return `expired: no step for ${duration(ttlMs)} (PROGRESS_HISTORY_TTL_MS); the order was not completed`;
}

/** The FAILED reason the user sees for an order dead-lettered before its first step, never replayed. */
export function unstartedReason(ttlMs: number): string {
  return `expired: not started within ${duration(ttlMs)} (PROGRESS_HISTORY_TTL_MS); the order was not run`;
}

/** `ms` in the largest whole unit: 24 h, 90 min, 45 s, else ms. */
function duration(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1_000],
  ] as const)
    if (ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms} ms`;
}
