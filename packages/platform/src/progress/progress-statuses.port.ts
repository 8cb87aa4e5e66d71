import { type ProgressStatus } from '@causeway/contracts';

/**
 * Read model: each task's current progress (S3-6), kept for the SSE `recovery` event and a
 * user's task list. The order consumer applies the status after every event it stores; the
 * event store stays the source of truth (`progressStatusOf` over the task's stream).
 *
 * Contract (proved by `describeProgressStatuses` against every implementation):
 * - `apply` stores the status only when its `eventCount` is greater than the stored one's and
 *   returns whether it did: a redelivered or replayed older state changes nothing.
 * - `get` returns a copy of the stored status, or undefined.
 * - `ofUser(userId, limit, before)` returns the user's tasks, the most recently updated first
 *   (then by taskId), at most `limit` (default 50) — never another user's. With `before` (the
 *   `taskPositionOf` the last task of the previous page), only the tasks after it in that order:
 *   paging on with the last task of each page lists every task once. A task updated meanwhile
 *   moves to the front, past the pages already read (a live list, not a snapshot).
 * - Retention (S3-7): a status is kept `ttlMs` (the implementation's option) after its
 *   `updatedAt`, then gone from `get` and `ofUser`; applying one already that old stores nothing
 *   (false).
 */
export interface ProgressStatuses {
  apply(status: ProgressStatus): Promise<boolean>;
  get(taskId: string): Promise<ProgressStatus | undefined>;
  ofUser(userId: string, limit?: number, before?: TaskPosition): Promise<ProgressStatus[]>;
}

/** Where a task stands in `ofUser`'s order: what a page's cursor holds. */
export interface TaskPosition {
  /** The task's `updatedAt` (ISO 8601). */
  updatedAt: string;
  taskId: string;
}

export function taskPositionOf(status: TaskPosition): TaskPosition {
  return { updatedAt: status.updatedAt, taskId: status.taskId };
}

/** Whether `status` comes after `position` in `ofUser`'s order (a later page). */
export function isAfter(status: TaskPosition, position: TaskPosition | undefined): boolean {
  return position === undefined || byRecentUpdate(status, position) > 0;
}

/** Most recently updated first, then by taskId: the order of `ofUser`. */
export function byRecentUpdate(a: TaskPosition, b: TaskPosition): number {
  if (a.updatedAt !== b.updatedAt) return a.updatedAt < b.updatedAt ? 1 : -1;
  return a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0;
}

export const DEFAULT_TASKS_PER_USER = 50;
