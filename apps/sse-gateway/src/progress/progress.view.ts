import { type Notification, PROGRESS_UPDATE_METHOD } from '@causeway/contracts';
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
  return {
    accepts: (notification) => isProgressOf(notification, taskId),
    frame: progressEventFrame,
    async opening(id, retryMs) {
      const tasks =
        taskId === undefined
          ? await statuses.ofUser(userId, RECOVERY_TASKS_MAX)
          : [await statuses.get(taskId)].filter((status) => status?.userId === userId);
      // Without a task the client still gets the resume point (and the retry hint): its
      // reconnect then replays what it missed rather than nothing.
      if (tasks.length === 0) return `retry: ${retryMs}\n${idFrame(id)}`;
      return tasks
        .map((status, index) =>
          progressRecoveryFrame(id, status!, index === 0 ? retryMs : undefined),
        )
        .join('');
    },
  };
}

/** Whether `notification` is a progress update (of `taskId`, if given). */
export function isProgressOf(notification: Notification, taskId?: string): boolean {
  if (notification.method !== PROGRESS_UPDATE_METHOD) return false;
  return taskId === undefined || notification.params.taskId === taskId;
}
