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
import { createMessage, type EventStore, StreamDeletedError } from '@causeway/cqrs-core';
import { type NotificationLog, type ProgressStatuses } from '@causeway/platform';
import { nextProgressEvent, type OrderRules } from './order-steps';

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
}

/** What handling one delivery of an order did. */
export interface OrderOutcome {
  /** The task's status after it; undefined when its stream was deleted (expired). */
  status: ProgressStatus | undefined;
  /** Events this delivery stored (0 on a redelivery of a finished task). */
  appended: number;
}

/**
 * Runs an order's steps (ADR 015 points 2 and 3). Each delivery first reads the task's stream
 * and tells again what is stored (status and notifications: a crash between an append and its
 * broadcast loses nothing; the status store keeps the newest, the log keeps an id once), then
 * appends the steps not stored yet, one event at a time at the expected version, broadcasting
 * each. Redelivered, it resumes after the last stored step; raced by another instance, the
 * append conflicts (ConcurrencyConflictError) and the retry reads again. Business failures are
 * FAILED events; infrastructure errors throw (retry, then dead letter).
 */
export class OrderProcessor {
  constructor(private readonly options: OrderProcessorOptions) {}

  async handle(order: OrderPlaced, signal?: AbortSignal): Promise<OrderOutcome> {
    const { store, rules, now, stepDelayMs } = this.options;
    const streamId = progressStreamId(order.taskId);
    let events: ProgressEvent[];
    try {
      events = (await store.readStream(streamId)).map((stored) => stored.data as ProgressEvent);
    } catch (error) {
      // Not thrown by reads today; kept for stores that refuse reads of a tombstone.
      if (error instanceof StreamDeletedError) return { status: undefined, appended: 0 };
      throw error;
    }
    let status = progressStatusOf(events);
    for (const event of events) await this.options.onEvent?.(event, false);
    if (status) await this.broadcast(status, events);
    let appended = 0;
    for (;;) {
      // The pause comes before each step after STARTED, so a browser sees the bar move.
      if (status && !isFinished(status) && stepDelayMs > 0)
        await sleep(stepDelayMs, undefined, { signal });
      const next = nextProgressEvent(order, rules, status, now());
      if (!next) break;
      try {
        await store.append(streamId, [this.envelope(next)], { expectedVersion: events.length });
      } catch (error) {
        // The task's stream was hard-deleted by retention (S3-7): an order that old is done.
        if (error instanceof StreamDeletedError) return { status: undefined, appended };
        throw error;
      }
      events.push(next);
      appended++;
      status = evolveProgressStatus(status, next);
      await this.options.onEvent?.(next, true);
      await this.broadcast(status, [next]);
    }
    return { status, appended };
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
