import { z } from 'zod';
import { type ProgressEvent, ProgressEventType } from './progress.event';

/**
 * S3-6: a task's current state — the fold of its ProgressEvents (`progressStatusOf`), what
 * `GET /api/v2/progress/status/{taskId}` answers and what an SSE `recovery` event carries.
 */
export const ProgressStatus = z.object({
  taskId: z.string().min(1),
  userId: z.string().min(1),
  currentStep: z.number().int().nonnegative(),
  totalSteps: z.number().int().positive(),
  percentage: z.number().int().min(0).max(100),
  stepName: z.string(),
  /** The type of the latest event: STARTED or PROGRESS while running, then COMPLETED or FAILED. */
  status: ProgressEventType,
  /** ISO 8601: the STARTED event's timestamp. */
  startedAt: z.iso.datetime(),
  /** ISO 8601: the latest event's timestamp. */
  updatedAt: z.iso.datetime(),
  /** How many events the state was folded from: greater means newer. */
  eventCount: z.number().int().positive(),
  /** The latest event's id. */
  lastEventId: z.string().min(1),
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
    startedAt: state?.startedAt ?? event.timestamp,
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
