import {
  type ProgressEvent,
  type ProgressStatus,
  progressStatusOf,
  progressStreamId,
} from '@causeway/contracts';
import { type EventStore } from '@causeway/cqrs-core';
import { type ProgressStatuses, taskPositionOf, type TaskPosition } from '@causeway/platform';
import { type UserTasksPage } from './user-tasks.page';

/** What `fold` answers for a task with no stored event. */
const EMPTY = Symbol('empty');
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
    const stored = await this.fold(taskId, userId);
    if (stored !== EMPTY) return stored;
    // No event stored: an accepted order whose first step is still to come, if recorded so.
    const accepted = await this.statuses.get(taskId);
    if (accepted?.userId !== userId) return undefined;
    if (accepted.eventCount === 0) return { taskId, status: accepted, events: [] };
    // A status with events: its first step was stored after the stream was read (read again),
    // or the stream was deleted by retention (still empty: the task is gone).
    const again = await this.fold(taskId, userId);
    return again === EMPTY ? undefined : again;
  }

  /** The task's stream folded; EMPTY when it has no event; undefined when another user's. */
  private async fold(
    taskId: string,
    userId: string,
  ): Promise<TaskHistory | undefined | typeof EMPTY> {
    const events = (await this.store.readStream(progressStreamId(taskId))).map(
      (stored) => stored.data as ProgressEvent,
    );
    if (events.length === 0) return EMPTY;
    return events[0]!.userId === userId
      ? { taskId, status: progressStatusOf(events)!, events }
      : undefined;
  }
}
