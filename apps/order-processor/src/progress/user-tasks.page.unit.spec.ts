import { ProblemException } from '@causeway/cqrs-core/nest';
import { userTasksCursor, userTasksPageOf, USER_TASKS_DEFAULT } from './user-tasks.page';

/** The problem document `refuse` throws (fails when it throws nothing or something else). */
function toProblemOf(refuse: () => unknown): unknown {
  try {
    refuse();
  } catch (error) {
    expect(error).toBeInstanceOf(ProblemException);
    return (error as ProblemException).getResponse();
  }
  throw new Error('accepted');
}

describe('the page of GET /api/v2/progress/user/{userId} (?limit=, ?before=)', () => {
  const last = { updatedAt: '2026-11-25T10:00:03.000Z', taskId: 'f3c1e2d4-task' };

  it('is the newest USER_TASKS_DEFAULT tasks without parameters', () => {
    expect(userTasksPageOf({})).toEqual({ limit: USER_TASKS_DEFAULT });
    expect(userTasksPageOf(undefined)).toEqual({ limit: USER_TASKS_DEFAULT });
  });

  it('takes a limit from 1 to 100 and the cursor a previous page handed out', () => {
    expect(userTasksPageOf({ limit: '1' })).toEqual({ limit: 1 });
    expect(userTasksPageOf({ limit: '100', before: userTasksCursor(last) })).toEqual({
      limit: 100,
      before: last,
    });
  });

  it.each([
    [{ limit: '0' }, 'limit'],
    [{ limit: '101' }, 'limit'],
    [{ limit: '2.5' }, 'limit'],
    [{ limit: '-1' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ limit: '' }, 'limit'],
    [{ limit: ['2', '3'] }, 'limit'],
    [{ before: 'not a cursor' }, 'before'],
    [{ before: '' }, 'before'],
    [{ before: Buffer.from('{"a":1}').toString('base64url') }, 'before'],
    [{ before: Buffer.from('["yesterday","t-1"]').toString('base64url') }, 'before'],
    [{ before: Buffer.from('["2026-11-25T10:00:03.000Z",""]').toString('base64url') }, 'before'],
    [{ before: [userTasksCursor(last), userTasksCursor(last)] }, 'before'],
  ])('refuses %j with 400 invalid-request naming %s', (query, field) => {
    const problem = toProblemOf(() => userTasksPageOf(query));
    expect(problem).toMatchObject({
      status: 400,
      type: 'https://causeway.dev/problems/invalid-request',
      errors: [{ field, message: expect.any(String) }],
    });
  });

  it('names every parameter that is wrong, not only the first', () => {
    // `?limit=0&before=x` named `limit` alone: fixed, the next request was refused for `before`
    // (/docs-json says `errors` names each parameter).
    expect(toProblemOf(() => userTasksPageOf({ limit: '0', before: 'x' }))).toMatchObject({
      status: 400,
      type: 'https://causeway.dev/problems/invalid-request',
      detail:
        'limit must be an integer from 1 to 100; before must be the `next` cursor of a previous page',
      errors: [
        { field: 'limit', message: 'must be an integer from 1 to 100' },
        { field: 'before', message: 'must be the `next` cursor of a previous page' },
      ],
    });
    expect(
      toProblemOf(() => userTasksPageOf({ limt: '5', limit: ['1', '2'], before: 'x' })),
    ).toMatchObject({
      status: 400,
      errors: [
        { field: 'limt', message: 'is not a known parameter (limit, before)' },
        { field: 'limit', message: 'must appear once' },
        { field: 'before', message: 'must be the `next` cursor of a previous page' },
      ],
    });
  });

  it('refuses a parameter it does not know, naming each, rather than answering the default page', () => {
    // `?limt=5` (a typo) answered USER_TASKS_DEFAULT tasks as if nothing had been asked.
    expect(toProblemOf(() => userTasksPageOf({ limt: '5' }))).toMatchObject({
      status: 400,
      type: 'https://causeway.dev/problems/invalid-request',
      detail: 'limt is not a known parameter (limit, before)',
      errors: [{ field: 'limt', message: 'is not a known parameter (limit, before)' }],
    });
    expect(
      toProblemOf(() => userTasksPageOf({ limit: '5', Before: 'x', after: 'y' })),
    ).toMatchObject({
      status: 400,
      detail: 'Before, after are not known parameters (limit, before)',
      errors: [
        { field: 'Before', message: 'is not a known parameter (limit, before)' },
        { field: 'after', message: 'is not a known parameter (limit, before)' },
      ],
    });
  });

  // `?=1` was refused naming the field "" (" is not a known parameter …"): a problem a client
  // could not act on, which read as if the server had lost the name (as command-api's did).
  it('names a parameter with an empty name as such, alone or among others', () => {
    const message = 'is not a known parameter (limit, before)';
    expect(toProblemOf(() => userTasksPageOf({ '': '1' }))).toMatchObject({
      status: 400,
      type: 'https://causeway.dev/problems/invalid-request',
      detail: `a query parameter with an empty name ${message}`,
      errors: [{ field: '(query parameter with an empty name)', message }],
    });
    expect(toProblemOf(() => userTasksPageOf({ '': '', after: 'y', limit: '0' }))).toMatchObject({
      status: 400,
      detail:
        'a query parameter with an empty name, after are not known parameters (limit, before); limit must be an integer from 1 to 100',
      errors: [
        { field: '(query parameter with an empty name)', message },
        { field: 'after', message },
        { field: 'limit', message: 'must be an integer from 1 to 100' },
      ],
    });
  });
  // Fifty 300-character names were each repeated twice (in `detail` and `errors`): 30 kB of the
  // client's own text back, where command-api answers the same URL with ten names cut at 64.
  it('repeats at most 10 unknown names, each cut at 64 characters, and counts the rest', () => {
    const names = Array.from(
      { length: 50 },
      (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(298)}`,
    );
    const problem = toProblemOf(() =>
      userTasksPageOf({ ...Object.fromEntries(names.map((name) => [name, '1'])), limit: '0' }),
    ) as { detail: string; errors: { field: string; message: string }[] };
    const message = 'is not a known parameter (limit, before)';
    const shown = names.slice(0, 10).map((name) => `${name.slice(0, 64)}…`);
    expect(problem).toMatchObject({
      status: 400,
      type: 'https://causeway.dev/problems/invalid-request',
      detail: `${shown.join(', ')} and 40 more are not known parameters (limit, before); limit must be an integer from 1 to 100`,
      errors: [
        ...shown.map((field) => ({ field, message })),
        { field: 'limit', message: 'must be an integer from 1 to 100' },
      ],
    });
    expect(problem.errors).toHaveLength(11);
    expect(JSON.stringify(problem).length).toBeLessThan(3_000);
  });
});
