import { setTimeout as sleep } from 'node:timers/promises';
import {
  evolveProgressStatus,
  isFinished,
  type Notification,
  type OrderPlaced,
  PROGRESS_EVENT,
  PROGRESS_UPDATE_METHOD,
  type ProgressEvent,
  progressNotificationId,
  type ProgressStatus,
  progressStatusOf,
  progressStreamId,
} from '@causeway/contracts';
import {
  ConcurrencyConflictError,
  createMessage,
  type EventStore,
  StreamDeletedError,
} from '@causeway/cqrs-core';
import { type NotificationLog, type ProgressStatuses } from '@causeway/platform';
import {
  type TaskExpirer,
  type TaskExpiry,
  type UnstartedOrder,
} from '../retention/progress-retention.job';
import {
  expiredProgressEvent,
  nextProgressEvent,
  type OrderRules,
  unstartedProgressEvent,
} from './order-steps';

/**
 * How far ahead of this instance's clock a task's next event may be stamped to stay after its
 * previous one (see `stampAfter`): clocks apart by more are a fault, not skew — the allowance
 * TokenService gives an issuer's clock too (60 s).
 */
export const MAX_STAMP_AHEAD_MS = 60_000;

/** The aggregate type of progress streams (`progress-<taskId>`). */
export const PROGRESS_TASK = 'ProgressTask';

export interface OrderProcessorOptions {
  /** The source of truth: one stream per task, progressStreamId(taskId). */
  store: EventStore;
  statuses: ProgressStatuses;
  notifications: NotificationLog;
  rules: OrderRules;
  /** This instance: the notifications' serverId. */
  serverId: string;
  /** The events' timestamps. */
  now: () => Date;
  /** Pause before each step after STARTED (ORDER_STEP_DELAY_MS); 0 in tests. */
  stepDelayMs: number;
  /** Told after each event stored or found stored (metrics, the retention index). */
  onEvent?: (event: ProgressEvent, stored: boolean) => void | Promise<void>;
  /**
   * Told when a delivery meets a task whose stream retention hard-deleted (a replay or a
   * redelivery more than PROGRESS_HISTORY_TTL_MS after the task's last step): the order is not
   * run again. The app logs a warn line and counts it (reportExpiredOrder).
   */
  onExpired?: (taskId: string) => void | Promise<void>;
  /**
   * Told when a task's previous event (before its first: its order's `placedAt`) is more than
   * MAX_STAMP_AHEAD_MS ahead of `now` and the next is stamped at that bound instead. The app
   * logs a warn line.
   */
  onWarning?: (message: string) => void;
}

/** What handling one delivery of an order did. */
export interface OrderOutcome {
  /** The task's status after it; undefined when its stream was deleted (expired, reported). */
  status: ProgressStatus | undefined;
  /** Events this delivery stored (0 on a redelivery of a finished task). */
  appended: number;
}

/**
 * Runs an order's steps (ADR 015 points 2 and 3). Each delivery first reads the task's stream
 * and tells again its last stored event (status and notification: a crash between an append
 * and its broadcast loses nothing; the status store keeps the newest, the log keeps an id
 * once — for NOTIFICATION_LOG_RETENTION_MS only, hence the last event alone: every writer tells
 * an event before it appends the next, so the earlier ones were told), then
 * appends the steps not stored yet, one event at a time at the expected version, broadcasting
 * each. Redelivered, it resumes after the last stored step. An append that stores nothing —
 * raced by another instance or by retention's FAILED "expired" (a ConcurrencyConflictError, or
 * the same event found stored) — reads the stream again and goes on from what is stored: only
 * an event this delivery stored is counted as stored, and what is told is what is stored.
 * Business failures are FAILED events; infrastructure errors throw (retry, then dead letter).
 * A task retention deleted is not run again (onExpired); one it found unfinished it ends
 * through `expire`, unless this instance is running that order now.
 */
export class OrderProcessor implements TaskExpirer {
  /** Tasks whose order a delivery is running here now (deliveries of each): not idle. */
  private readonly running = new Map<string, number>();

  constructor(private readonly options: OrderProcessorOptions) {}

  /** Orders a delivery is running on this instance now (GET /monitor's `running`). */
  runningOrders(): number {
    return this.running.size;
  }

  async handle(order: OrderPlaced, signal?: AbortSignal): Promise<OrderOutcome> {
    const { taskId } = order;
    this.running.set(taskId, (this.running.get(taskId) ?? 0) + 1);
    try {
      return await this.run(order, signal);
    } finally {
      const left = this.running.get(taskId)! - 1;
      if (left > 0) this.running.set(taskId, left);
      else this.running.delete(taskId);
    }
  }

  /**
   * Ends a task left unfinished for longer than retention keeps it (TaskExpirer's contract):
   * a FAILED event with `reason`, appended at the version read and told as a step's FAILED is
   * (status, notification, onEvent), so /status, /history and the user's page agree. A task
   * this instance is running an order of is left alone, whatever its last event's age: it is
   * alive (PROGRESS_HISTORY_TTL_MS is refused when a delivery may outlast it).
   */
  async expire(taskId: string, reason: string, idleBefore: number): Promise<TaskExpiry> {
    const streamId = progressStreamId(taskId);
    const events = await this.read(streamId);
    const status = progressStatusOf(events);
    const last = events.at(-1);
    if (
      !status ||
      !last ||
      isFinished(status) ||
      Date.parse(last.timestamp) >= idleBefore ||
      this.running.has(taskId)
    )
      return { status, expired: false };
    const failed = expiredProgressEvent(status, reason, this.stampAfter(taskId, status));
    // A step stored since the read (a replay) makes this a ConcurrencyConflictError: the
    // task is alive again, and retention looks at it anew.
    const { positions } = await this.options.store.append(streamId, [this.envelope(failed)], {
      expectedVersion: events.length,
    });
    if (positions.length === 0) {
      // Stored already: another instance's retention stored this expiry first, and tells and
      // counts it. What is stored is told again (idempotent), not counted as this one's.
      const stored = await this.read(streamId);
      const after = progressStatusOf(stored);
      await this.tell(stored.slice(events.length), after);
      return { status: after, expired: false };
    }
    const after = evolveProgressStatus(status, failed);
    // Told before onEvent moves the retention index on: no delivery will tell this FAILED
    // again, so one stopped before its broadcast must leave the task due, for `retell`.
    await this.broadcast(after, [failed]);
    await this.options.onEvent?.(failed, true);
    return { status: after, expired: true };
  }

  /**
   * Ends an order that never started (TaskExpirer's contract): its letter is being purged, a
   * TTL after it was dead-lettered before its first step, and nothing else would tell its user
   * (the ACCEPTED status expires, then /status is 404). A FAILED with `reason` at step 0 is the
   * task's first event, appended at no stream (a replay's STARTED stored meanwhile conflicts:
   * the task is alive) and told as a step's FAILED is; it ages the task like any, so retention
   * deletes it one TTL later. An order this instance is running now is left alone.
   */
  async expireUnstarted(order: UnstartedOrder, reason: string): Promise<boolean> {
    const streamId = progressStreamId(order.taskId);
    if (this.running.has(order.taskId) || (await this.read(streamId)).length > 0) return false;
    // Not clamped to the order's placedAt (stampAfter): dead-lettered a TTL ago, far behind.
    const failed = unstartedProgressEvent(order, reason, this.options.now());
    let positions: number[];
    try {
      ({ positions } = await this.options.store.append(streamId, [this.envelope(failed)], {
        expectedVersion: 'no-stream',
      }));
    } catch (error) {
      // A step stored since the read (the task is alive), or a stream retention deleted.
      if (error instanceof ConcurrencyConflictError || error instanceof StreamDeletedError)
        return false;
      throw error;
    }
    // Stored already (another instance's retention): that one tells and counts it.
    if (positions.length === 0) return false;
    await this.broadcast(evolveProgressStatus(undefined, failed), [failed]);
    await this.options.onEvent?.(failed, true);
    return true;
  }

  /**
   * Tells the task's last stored event again (TaskExpirer's contract): its status to the
   * status store and its notification to the log, both idempotent. Only the last: the earlier
   * ones were told before it, and the log may no longer remember their ids (its own retention).
   */
  async retell(taskId: string): Promise<ProgressStatus | undefined> {
    const events = await this.read(progressStreamId(taskId));
    const status = progressStatusOf(events);
    const last = events.at(-1);
    if (status && last) await this.broadcast(status, [last]);
    return status;
  }

  private async run(order: OrderPlaced, signal?: AbortSignal): Promise<OrderOutcome> {
    const { store, rules, stepDelayMs } = this.options;
    const streamId = progressStreamId(order.taskId);
    let events: ProgressEvent[];
    try {
      events = await this.read(streamId);
    } catch (error) {
      // Not thrown by reads today; kept for stores that refuse reads of a tombstone.
      if (error instanceof StreamDeletedError) return this.expired(order.taskId, 0);
      throw error;
    }
    let status = progressStatusOf(events);
    await this.tell(events, status);
    let appended = 0;
    for (;;) {
      // The pause comes before each step after STARTED, so a browser sees the bar move.
      if (status && !isFinished(status) && stepDelayMs > 0)
        await sleep(stepDelayMs, undefined, { signal });
      const next = nextProgressEvent(
        order,
        rules,
        status,
        this.stampAfter(order.taskId, status ?? { updatedAt: order.placedAt }),
      );
      if (!next) break;
      let positions: number[];
      try {
        ({ positions } = await store.append(streamId, [this.envelope(next)], {
          expectedVersion: events.length,
        }));
      } catch (error) {
        // The task's stream was hard-deleted by retention (S3-7): it had ended (COMPLETED,
        // FAILED, or FAILED "expired" by retention) more than a TTL ago. Reported, not silent:
        // a replay that comes too late is the operator's to see (runbook, step 3).
        if (error instanceof StreamDeletedError) return this.expired(order.taskId, appended);
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        positions = [];
      }
      if (positions.length === 0) {
        // Not stored by this delivery: another stored an event since the read (retention's
        // FAILED "expired", another instance's step). Go on from what is stored, told as found
        // (not counted as stored here): telling `next` would contradict /status and /history.
        const stored = await this.read(streamId);
        // Nothing new (cannot happen with a store keeping its contract): retried as a failure.
        if (stored.length <= events.length)
          throw new ConcurrencyConflictError(streamId, events.length, stored.length);
        const found = stored.slice(events.length);
        events = stored;
        status = progressStatusOf(events);
        await this.tell(found, status);
        continue;
      }
      events.push(next);
      appended++;
      status = evolveProgressStatus(status, next);
      await this.options.onEvent?.(next, true);
      await this.broadcast(status, [next]);
    }
    return { status, appended };
  }

  private async read(streamId: string): Promise<ProgressEvent[]> {
    return (await this.options.store.readStream(streamId)).map(
      (stored) => stored.data as ProgressEvent,
    );
  }

  /**
   * Events found stored (not stored by this call): the last of them to onEvent, then the status
   * and its notification. Only the last one can be untold (its writer stopped before telling
   * it): each writer tells an event before it appends the next. Telling the earlier ones again
   * re-sent them to the user as new once the log had forgotten their ids (a late replay).
   */
  private async tell(
    events: readonly ProgressEvent[],
    status: ProgressStatus | undefined,
  ): Promise<void> {
    const last = events.slice(-1);
    for (const event of last) await this.options.onEvent?.(event, false);
    if (status) await this.broadcast(status, last);
  }

  private async expired(taskId: string, appended: number): Promise<OrderOutcome> {
    await this.options.onExpired?.(taskId);
    return { status: undefined, appended };
  }

  /** The status to the status store, then each event to the notification log (user target). */
  private async broadcast(status: ProgressStatus, events: readonly ProgressEvent[]): Promise<void> {
    await this.options.statuses.apply(status);
    for (const event of events) await this.options.notifications.append(this.notification(event));
  }

  private notification(event: ProgressEvent): Notification {
    return {
      notificationId: progressNotificationId(event.eventId),
      targetType: 'user',
      targetIds: [event.userId],
      method: PROGRESS_UPDATE_METHOD,
      params: { ...event },
      serverId: this.options.serverId,
    };
  }

  /**
   * The timestamp of a task's next event: `now`, or the time of its latest one (before its first:
   * its order's `placedAt`, its ACCEPTED status's `updatedAt`) when this clock is behind it. That
   * time is where the task stands in a user's task list (`ofUser`, newest first); moved back (this
   * instance's clock behind command-api's or another instance's) it went behind the cursor of a
   * page already read and was listed again on the next, and /history went out of order.
   * At most MAX_STAMP_AHEAD_MS ahead of `now`: a `placedAt` far ahead (command-api's clock
   * wrong, or an order published by another producer) stamped every step, and so the retention
   * index's entry, that far ahead — the task was kept that long past its TTL.
   */
  private stampAfter(taskId: string, latest: { updatedAt: string }): Date {
    const now = this.options.now();
    const at = Date.parse(latest.updatedAt);
    if (!(at > now.getTime())) return now;
    const bound = now.getTime() + MAX_STAMP_AHEAD_MS;
    if (at <= bound) return new Date(at);
    const stamped = new Date(bound);
    this.options.onWarning?.(
      `task ${taskId}: its previous event (or its order's placedAt) ${latest.updatedAt} is more than ${MAX_STAMP_AHEAD_MS} ms ahead of this clock; its next event is stamped ${stamped.toISOString()} instead`,
    );
    return stamped;
  }

  private envelope(event: ProgressEvent) {
    return createMessage({
      type: PROGRESS_EVENT,
      data: event,
      // The stable id: re-appending a stored step is a no-op (idempotent append).
      messageId: event.eventId,
      aggregateId: event.taskId,
      aggregateType: PROGRESS_TASK,
      category: 'event',
      // Retention ages events by this (RetentionPolicy.maxAgeMs); the event's own time.
      metadata: { timestamp: event.timestamp },
    });
  }
}
