import {
  type ProgressEvent,
  type ProgressStatus,
  progressStatusOf,
  progressStreamId,
} from '@causeway/contracts';
import { type EventStore } from '@causeway/cqrs-core';
import { type ProgressStatuses, taskPositionOf, type TaskPosition } from '@causeway/platform';
import { type UserTasksPage } from './user-tasks.page';

export interface TaskHistory {
  taskId: string;
  status: ProgressStatus;
  events: ProgressEvent[];
}

/**
 * The REST reads of ADR 015 point 5, from the event store (the source of truth: S3-3, state
 * rebuilt by replay); the status store lists a user's tasks and tells an accepted task whose
 * first step is not stored yet (its ACCEPTED status, command-api's: a status of it, no events).
 * A task is the caller's or does not exist for them: another user's task reads as unknown.
 */
export class ProgressReads {
  constructor(
    private readonly store: EventStore,
    private readonly statuses: ProgressStatuses,
  ) {}

  /**
   * The task's stored events in order (none yet for an accepted task), or undefined when it is
   * unknown or another user's.
   */
  async history(taskId: string, userId: string): Promise<ProgressEvent[] | undefined> {
    return (await this.read(taskId, userId))?.events;
  }

  /**
   * The fold of the task's stream (eventCount included); an accepted task not started yet is
   * ACCEPTED (eventCount 0); undefined as for history.
   */
  async status(taskId: string, userId: string): Promise<ProgressStatus | undefined> {
    return (await this.read(taskId, userId))?.status;
  }

  /**
   * A page of the user's tasks, most recently updated first, with their events, and where the
   * next page starts when there may be more (one more task than the page was read to know).
   * A listed task whose stream is gone (retention) is left out: a page may hold fewer.
   */
  async ofUser(
    userId: string,
    page: UserTasksPage,
  ): Promise<{ tasks: TaskHistory[]; next?: TaskPosition }> {
    const listed = await this.statuses.ofUser(userId, page.limit + 1, page.before);
    const shown = listed.slice(0, page.limit);
    const histories = await Promise.all(shown.map(({ taskId }) => this.read(taskId, userId)));
    return {
      tasks: histories.filter((history): history is TaskHistory => history !== undefined),
      ...(listed.length > page.limit && { next: taskPositionOf(shown[shown.length - 1]!) }),
    };
  }

  private async read(taskId: string, userId: string): Promise<TaskHistory | undefined> {
    const events = (await this.store.readStream(progressStreamId(taskId))).map(
      (stored) => stored.data as ProgressEvent,
    );
    if (events.length > 0)
      return events[0]!.userId === userId
        ? { taskId, status: progressStatusOf(events)!, events }
        : undefined;
    // No event stored: an accepted order whose first step is still to come, if recorded so. A
    // status with events but no stream (deleted by retention) is not one: the task is gone.
    const accepted = await this.statuses.get(taskId);
    return accepted?.userId === userId && accepted.eventCount === 0
      ? { taskId, status: accepted, events: [] }
      : undefined;
  }
}
