import { z } from 'zod';
import { ORDER_STEPS } from './place-order.command';
import { type ProgressEvent, ProgressEventType } from './progress.event';

/**
 * A task's status: `ACCEPTED` from the order's acceptance (command-api, once Kafka acknowledged
 * it) until order-processor stored its first event, then the type of its latest event.
 */
export const ProgressTaskStatus = z.enum(['ACCEPTED', ...ProgressEventType.options]);
export type ProgressTaskStatus = z.infer<typeof ProgressTaskStatus>;

/**
 * S3-6: a task's current state — the fold of its ProgressEvents (`progressStatusOf`), what
 * `GET /api/v2/progress/status/{taskId}` answers and what an SSE `recovery` event carries. Before
 * its first event an accepted task is `acceptedProgressStatus` (status `ACCEPTED`, 0 %,
 * `eventCount` 0, no `lastEventId`): a client polling or subscribing right after the 202 sees
 * the task, never a 404.
 */
export const ProgressStatus = z.object({
  taskId: z.string().min(1),
  userId: z.string().min(1),
  currentStep: z.number().int().nonnegative(),
  totalSteps: z.number().int().positive(),
  percentage: z.number().int().min(0).max(100),
  stepName: z.string(),
  /**
   * ACCEPTED before the first event; then the type of the latest event: STARTED or PROGRESS
   * while running, COMPLETED or FAILED at the end.
   */
  status: ProgressTaskStatus,
  /** ISO 8601: the STARTED event's timestamp (ACCEPTED: when the order was accepted). */
  startedAt: z.iso.datetime(),
  /** ISO 8601: the latest event's timestamp. */
  updatedAt: z.iso.datetime(),
  /** How many events the state was folded from (0: ACCEPTED): greater means newer. */
  eventCount: z.number().int().nonnegative(),
  /** The latest event's id; absent while ACCEPTED. */
  lastEventId: z.string().min(1).optional(),
  /** FAILED only. */
  reason: z.string().optional(),
});
export type ProgressStatus = z.infer<typeof ProgressStatus>;

/** Whether a task has ended (no event follows a COMPLETED or FAILED one). */
export function isFinished(status: Pick<ProgressStatus, 'status'>): boolean {
  return status.status === 'COMPLETED' || status.status === 'FAILED';
}

/** The state after `event`: pure, the one fold every reader of progress uses. */
export function evolveProgressStatus(
  state: ProgressStatus | undefined,
  event: ProgressEvent,
): ProgressStatus {
  return {
    taskId: event.taskId,
    userId: event.userId,
    currentStep: event.currentStep,
    totalSteps: event.totalSteps,
    percentage: event.percentage,
    stepName: event.stepName,
    status: event.eventType,
    // An ACCEPTED state (no event yet) has no STARTED timestamp to keep.
    startedAt: state && state.eventCount > 0 ? state.startedAt : event.timestamp,
    updatedAt: event.timestamp,
    eventCount: (state?.eventCount ?? 0) + 1,
    lastEventId: event.eventId,
    ...(event.reason !== undefined && { reason: event.reason }),
  };
}

/** S3-3: a task's state rebuilt by replaying its events in order; undefined when there are none. */
export function progressStatusOf(events: readonly ProgressEvent[]): ProgressStatus | undefined {
  return events.reduce<ProgressStatus | undefined>(evolveProgressStatus, undefined);
}

/**
 * The state of an order accepted at `placedAt` whose steps have not begun: what command-api
 * records once Kafka acknowledged the order. `eventCount` 0, so the order consumer's first
 * status (1) replaces it whichever is written first (ProgressStatuses keeps the greater).
 */
export function acceptedProgressStatus(order: {
  taskId: string;
  userId: string;
  placedAt: string;
}): ProgressStatus {
  return {
    taskId: order.taskId,
    userId: order.userId,
    currentStep: 0,
    totalSteps: ORDER_STEPS.length,
    percentage: 0,
    stepName: 'accepted',
    status: 'ACCEPTED',
    startedAt: order.placedAt,
    updatedAt: order.placedAt,
    eventCount: 0,
  };
}
