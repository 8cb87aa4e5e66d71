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
    timestamp: new Date(Date.UTC(2026, 10, 25, 10, 0, step)).toISOString(),
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
