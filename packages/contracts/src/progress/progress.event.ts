import { z } from 'zod';

/** S3-1: what happened to a task at one of its steps. */
export const ProgressEventType = z.enum(['STARTED', 'PROGRESS', 'COMPLETED', 'FAILED']);
export type ProgressEventType = z.infer<typeof ProgressEventType>;

/**
 * S3-1: one change of a task's progress; immutable — a change is a new event, and the task's
 * state is the fold of its events (`progressStatusOf`).
 *
 * `eventId` is derived from the task and the step (`progressEventId`), so the order consumer
 * running a step again after a redelivery produces the same event, which the event store and
 * the notification log then keep once.
 */
export const ProgressEvent = z
  .object({
    eventId: z.string().min(1),
    taskId: z.string().min(1),
    userId: z.string().min(1),
    /** 0 for STARTED; the step reached (1…totalSteps) otherwise; FAILED: the step that failed. */
    currentStep: z.number().int().nonnegative(),
    totalSteps: z.number().int().positive(),
    /** 0–100: the share of steps done (a FAILED event keeps the last step's percentage). */
    percentage: z.number().int().min(0).max(100),
    stepName: z.string(),
    eventType: ProgressEventType,
    /** When it happened, ISO 8601 (UTC). */
    timestamp: z.iso.datetime(),
    /** FAILED only: why the step failed, for the user. */
    reason: z.string().optional(),
  })
  .readonly();
export type ProgressEvent = z.infer<typeof ProgressEvent>;
export const PROGRESS_EVENT = 'ProgressEvent';

/** The event store stream of a task's progress events. */
export function progressStreamId(taskId: string): string {
  return `progress-${taskId}`;
}

/** The stable id of a task's event at a step (STARTED is step 0). */
export function progressEventId(taskId: string, step: number, type: ProgressEventType): string {
  return `${taskId}:${step}:${type}`;
}

/** The notification method that carries a ProgressEvent (params) to its user's SSE streams. */
export const PROGRESS_UPDATE_METHOD = 'progress.update';

/** The id of the notification that carries a ProgressEvent (the notification log keeps it once). */
export function progressNotificationId(eventId: string): string {
  return `progress:${eventId}`;
}
