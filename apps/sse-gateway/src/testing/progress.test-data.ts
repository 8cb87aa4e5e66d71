import {
  type Notification,
  type ProgressEvent,
  type ProgressEventType,
  progressEventId,
  progressNotificationId,
  progressStatusOf,
  type ProgressStatus,
  PROGRESS_UPDATE_METHOD,
} from '@causeway/contracts';

/**
 * When the test data's tasks started: a minute before the test run, not a fixed date. The
 * progress statuses built from these events expire PROGRESS_HISTORY_TTL_MS after their last
 * event, and a fixed date made the tests that read them fail from a day after it (session 46).
 */
const STARTED_AT = Date.now() - 60_000;

/** A task's event at `step` of 4 (25 % a step), as order-processor appends it. */
export function progressEvent(
  taskId: string,
  userId: string,
  step: number,
  eventType: ProgressEventType = step === 0 ? 'STARTED' : 'PROGRESS',
): ProgressEvent {
  return {
    eventId: progressEventId(taskId, step, eventType),
    taskId,
    userId,
    currentStep: step,
    totalSteps: 4,
    percentage: step * 25,
    stepName: `step ${step}`,
    eventType,
    timestamp: new Date(STARTED_AT + step * 1_000).toISOString(),
  };
}

/** The notification order-processor logs for `event`: to its user, `progress.update`. */
export function progressNotification(event: ProgressEvent): Notification {
  return {
    notificationId: progressNotificationId(event.eventId),
    targetType: 'user',
    targetIds: [event.userId],
    method: PROGRESS_UPDATE_METHOD,
    params: { ...event },
    serverId: 'order-processor-test',
  };
}

/** The status of a task that reached `step` (STARTED, then PROGRESS up to it), updated now. */
export function progressStatusAt(taskId: string, userId: string, step: number): ProgressStatus {
  const events = Array.from({ length: step + 1 }, (_, k) => progressEvent(taskId, userId, k));
  return { ...progressStatusOf(events)!, updatedAt: new Date().toISOString() };
}
