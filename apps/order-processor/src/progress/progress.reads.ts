import {
  type ProgressEvent,
  type ProgressStatus,
  progressStatusOf,
  progressStreamId,
} from '@causeway/contracts';
import { type EventStore } from '@causeway/cqrs-core';
import { type ProgressStatuses } from '@causeway/platform';

/** The most tasks `GET /user/{userId}` answers with (the newest). */
export const USER_TASKS_MAX = 20;

export interface TaskHistory {
  taskId: string;
  status: ProgressStatus;
  events: ProgressEvent[];
}

/**
 * The REST reads of ADR 015 point 5, from the event store (the source of truth: S3-3, state
 * rebuilt by replay); the status store only lists a user's tasks. A task is the caller's or
 * does not exist for them: another user's task reads as unknown.
 */
export class ProgressReads {
  constructor(
    private readonly store: EventStore,
    private readonly statuses: ProgressStatuses,
  ) {}

  /** The task's stored events in order, or undefined when it is unknown or another user's. */
  async history(taskId: string, userId: string): Promise<ProgressEvent[] | undefined> {
    const events = (await this.store.readStream(progressStreamId(taskId))).map(
      (stored) => stored.data as ProgressEvent,
    );
    return events.length > 0 && events[0]!.userId === userId ? events : undefined;
  }

  /** The fold of the task's stream (eventCount included), or undefined as for history. */
  async status(taskId: string, userId: string): Promise<ProgressStatus | undefined> {
    const events = await this.history(taskId, userId);
    return events && progressStatusOf(events);
  }

  /** The user's tasks, most recently updated first, at most USER_TASKS_MAX, with their events. */
  async ofUser(userId: string): Promise<TaskHistory[]> {
    const tasks = await this.statuses.ofUser(userId, USER_TASKS_MAX);
    const histories = await Promise.all(
      tasks.map(async ({ taskId }) => {
        const events = await this.history(taskId, userId);
        return events && { taskId, status: progressStatusOf(events)!, events };
      }),
    );
    return histories.filter((history): history is TaskHistory => history !== undefined);
  }
}
