import { ProblemException } from '@causeway/cqrs-core/nest';
import {
  type ParameterError,
  queryParameter,
  type TaskPosition,
  queryRefusal,
} from '@causeway/platform';

/** How many tasks a page of `GET /user/{userId}` lists without `?limit=`. */
export const USER_TASKS_DEFAULT = 20;
/** The most `?limit=` may ask for: each task comes with every event it has. */
export const USER_TASKS_MAX = 100;

/** A page of a user's tasks: at most `limit`, after `before` (the previous page's last task). */
export interface UserTasksPage {
  limit: number;
  before?: TaskPosition;
}

/**
 * The tasks one point of a caller's rate pays for on `GET /user/{userId}`: each is a stream read
 * and a fold, as a whole `/status` is. A page of up to 20 costs the request's one point; each 20
 * more, one more (a page of 100 costs 5), charged after it is answered (userTasksPoints).
 */
export const USER_TASKS_PER_POINT = 20;

/** The points a page listing `listed` tasks costs: one per USER_TASKS_PER_POINT, at least one. */
export function userTasksPoints(listed: number): number {
  return Math.max(1, Math.ceil(listed / USER_TASKS_PER_POINT));
}

/**
 * The query parameters of `GET /user/{userId}`: any other is refused, not ignored (the first 10
 * named, each cut at 64 characters: queryRefusal).
 */
const PARAMETERS = ['limit', 'before'];

/**
 * The page `?limit=` and `?before=` ask for; a 400 `invalid-request` naming every parameter that
 * is wrong, each in `errors`: one repeated, `limit` not an integer from 1 to USER_TASKS_MAX,
 * `before` not a cursor this app made (`userTasksCursor`), and every other parameter given (a
 * typo, `?limt=5`, would otherwise answer the default page as if nothing had been asked). It named
 * the first alone: the request fixed for it was then refused for the next.
 */
export function userTasksPageOf(query: Record<string, unknown> | undefined): UserTasksPage {
  const unknown = Object.keys(query ?? {}).filter((name) => !PARAMETERS.includes(name));
  const errors: ParameterError[] = [];
  const limitText = parameter(query, 'limit', errors);
  const beforeText = parameter(query, 'before', errors);
  let limit = USER_TASKS_DEFAULT;
  if (limitText !== undefined) {
    limit = /^[0-9]{1,4}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= USER_TASKS_MAX))
      errors.push({ field: 'limit', message: `must be an integer from 1 to ${USER_TASKS_MAX}` });
  }
  const before = beforeText === undefined ? undefined : positionOf(beforeText);
  if (beforeText !== undefined && !before)
    errors.push({ field: 'before', message: 'must be the `next` cursor of a previous page' });
  if (unknown.length > 0 || errors.length > 0) throw queryRefusal(unknown, PARAMETERS, errors);
  return before ? { limit, before } : { limit };
}

/** The parameter's one value (queryParameter); a repeated one is added to `errors`. */
function parameter(
  query: Record<string, unknown> | undefined,
  name: string,
  errors: ParameterError[],
): string | undefined {
  try {
    return queryParameter(query, name);
  } catch (error) {
    if (!(error instanceof ProblemException)) throw error;
    const { errors: found } = error.getResponse() as { errors?: ParameterError[] };
    errors.push(...(found ?? [{ field: name, message: 'must be a single value' }]));
    return undefined;
  }
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
