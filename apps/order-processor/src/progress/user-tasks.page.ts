import { ProblemException, problemType } from '@causeway/cqrs-core/nest';
import { invalidRequest, queryParameter, type TaskPosition } from '@causeway/platform';

/** How many tasks a page of `GET /user/{userId}` lists without `?limit=`. */
export const USER_TASKS_DEFAULT = 20;
/** The most `?limit=` may ask for: each task comes with every event it has. */
export const USER_TASKS_MAX = 100;

/** A page of a user's tasks: at most `limit`, after `before` (the previous page's last task). */
export interface UserTasksPage {
  limit: number;
  before?: TaskPosition;
}

/** The query parameters of `GET /user/{userId}`: any other is refused, not ignored. */
const PARAMETERS = ['limit', 'before'];

/**
 * The page `?limit=` and `?before=` ask for; a 400 `invalid-request` naming the parameter when
 * one is repeated, `limit` is not an integer from 1 to USER_TASKS_MAX, or `before` is not a
 * cursor this app made (`userTasksCursor`), and naming every other parameter given (a typo,
 * `?limt=5`, would otherwise answer the default page as if nothing had been asked).
 */
export function userTasksPageOf(query: Record<string, unknown> | undefined): UserTasksPage {
  refuseUnknown(query);
  const limitText = queryParameter(query, 'limit');
  const beforeText = queryParameter(query, 'before');
  let limit = USER_TASKS_DEFAULT;
  if (limitText !== undefined) {
    limit = /^[0-9]{1,4}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= USER_TASKS_MAX))
      throw invalidRequest('limit', `must be an integer from 1 to ${USER_TASKS_MAX}`);
  }
  if (beforeText === undefined) return { limit };
  const before = positionOf(beforeText);
  if (!before) throw invalidRequest('before', 'must be the `next` cursor of a previous page');
  return { limit, before };
}

function refuseUnknown(query: Record<string, unknown> | undefined): void {
  const unknown = Object.keys(query ?? {}).filter((name) => !PARAMETERS.includes(name));
  if (unknown.length === 0) return;
  const message = `is not a known parameter (${PARAMETERS.join(', ')})`;
  throw new ProblemException({
    type: problemType('invalid-request'),
    title: 'Bad Request',
    status: 400,
    detail:
      unknown.length === 1
        ? `${unknown[0]} ${message}`
        : `${unknown.join(', ')} are not known parameters (${PARAMETERS.join(', ')})`,
    errors: unknown.map((field) => ({ field, message })),
  });
}

/**
 * The cursor of the page after `last` (the last task listed): opaque to clients (base64url of
 * its `updatedAt` and `taskId`), so its form can change without breaking them.
 */
export function userTasksCursor(last: TaskPosition): string {
  return Buffer.from(JSON.stringify([last.updatedAt, last.taskId])).toString('base64url');
}

function positionOf(cursor: string): TaskPosition | undefined {
  if (!/^[A-Za-z0-9_-]{1,2000}$/.test(cursor)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [updatedAt, taskId] = value as unknown[];
    if (typeof updatedAt !== 'string' || typeof taskId !== 'string' || taskId === '')
      return undefined;
    if (Number.isNaN(Date.parse(updatedAt)) || new Date(updatedAt).toISOString() !== updatedAt)
      return undefined;
    return { updatedAt, taskId };
  } catch {
    return undefined;
  }
}
