import {
  type Notification,
  type ProgressEvent,
  type ProgressStatus,
  PROGRESS_UPDATE_METHOD,
} from '@causeway/contracts';
import { type ProgressStatuses } from '@causeway/platform';
import { type StreamView } from '../sse/stream.view';
import { idFrame } from '../sse/sse.frames';
import { progressEventFrame, progressRecoveryFrame } from './progress.frames';

/**
 * The most `recovery` events the all-tasks stream opens with: the caller's most recently updated
 * tasks, newest first. Bounded, as every frame a (re)connect sends must be: a user with
 * thousands of tasks within PROGRESS_HISTORY_TTL_MS would otherwise get them all at each
 * reconnect. The older ones are read with `GET /api/v2/progress/user/{userId}` (paged); their
 * `progress` events still reach the stream.
 */
export const RECOVERY_TASKS_MAX = 50;

/**
 * The view of `GET /api/v2/progress/subscribe[/{taskId}]`: only `progress.update`
 * notifications (moves, command results and every other method never reach it), of one task
 * when `taskId` is given; each (re)connect opens with a `recovery` event per task holding its
 * ProgressStatus, so a client that was at 75 % sees 75 % at once (S3-5) — for the caller's
 * RECOVERY_TASKS_MAX most recently updated tasks, newest first, on the all-tasks stream.
 */
export function progressView(
  statuses: Pick<ProgressStatuses, 'get' | 'ofUser'>,
  userId: string,
  taskId?: string,
): StreamView {
  /**
   * The states a non-replayed opening showed, by task, until the stream's first event past
   * one: the events up to it (logged before the state was read, dispatched after) are not
   * told again — a second COMPLETED, or a bar stepping back (ADR 015, session 42).
   */
  const shown = new Map<string, ProgressStatus>();
  return {
    accepts: (notification) => isProgressOf(notification, taskId),
    frame: progressEventFrame,
    async opening(id, retryMs, replayed) {
      const tasks =
        taskId === undefined
          ? await statuses.ofUser(userId, RECOVERY_TASKS_MAX)
          : [await statuses.get(taskId)].filter((status) => status?.userId === userId);
      if (!replayed) for (const status of tasks) shown.set(status!.taskId, status!);
      // Without a task the client still gets the resume point (and the retry hint): its
      // reconnect then replays what it missed rather than nothing.
      if (tasks.length === 0) return `retry: ${retryMs}\n${idFrame(id)}`;
      return tasks
        .map((status, index) =>
          progressRecoveryFrame(id, status!, index === 0 ? retryMs : undefined),
        )
        .join('');
    },
    covers(notification) {
      const event = notification.params as ProgressEvent;
      const status = shown.get(event.taskId);
      if (!status) return false;
      if (event.eventId === status.lastEventId) {
        // Only newer events follow it.
        shown.delete(event.taskId);
        return true;
      }
      if (reach(event.eventType, event.currentStep) < reach(status.status, status.currentStep))
        return true;
      shown.delete(event.taskId);
      return false;
    },
  };
}

/** How far a task is: its phase, then its step (a finished task is as far as it gets). */
function reach(status: ProgressStatus['status'], currentStep: number): number {
  const phase = PHASES[status];
  return phase * 1_000 + (phase === 3 ? 0 : currentStep);
}
const PHASES: Record<ProgressStatus['status'], number> = {
  ACCEPTED: 0,
  STARTED: 1,
  PROGRESS: 2,
  COMPLETED: 3,
  FAILED: 3,
};

/** Whether `notification` is a progress update (of `taskId`, if given). */
export function isProgressOf(notification: Notification, taskId?: string): boolean {
  if (notification.method !== PROGRESS_UPDATE_METHOD) return false;
  return taskId === undefined || notification.params.taskId === taskId;
}
