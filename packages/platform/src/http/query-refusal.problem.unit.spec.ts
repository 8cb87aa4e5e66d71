import { queryRefusal } from './query-refusal.problem';

/** The problem document of queryRefusal(...). */
const problemOf = (...args: Parameters<typeof queryRefusal>) =>
  queryRefusal(...args).getResponse() as {
    status: number;
    detail: string;
    errors: { field: string; message: string }[];
  };

describe('queryRefusal: the 400 of a query an endpoint does not take', () => {
  it('names ten unknown parameters at most, counting the others', () => {
    const names = Array.from({ length: 11 }, (_, i) => `p${i}`);
    const ten = problemOf(names.slice(0, 10), []);
    expect(ten.detail).toBe(
      `${names.slice(0, 10).join(', ')} are not known parameters (this endpoint takes none)`,
    );
    expect(ten.errors).toHaveLength(10);
    const eleven = problemOf(names, ['limit']);
    expect(eleven).toMatchObject({
      status: 400,
      detail: `${names.slice(0, 10).join(', ')} and 1 more are not known parameters (limit)`,
    });
    expect(eleven.errors.map(({ field }) => field)).toEqual(names.slice(0, 10));
  });

  it('cuts a long name at 64 characters, in the detail and in errors alike', () => {
    const long = 'n'.repeat(65);
    expect(problemOf([long], ['limit', 'before'])).toEqual(
      expect.objectContaining({
        detail: `${'n'.repeat(64)}… is not a known parameter (limit, before)`,
        errors: [
          { field: `${'n'.repeat(64)}…`, message: 'is not a known parameter (limit, before)' },
        ],
      }),
    );
    expect(problemOf(['n'.repeat(64)], []).errors[0]!.field).toBe('n'.repeat(64));
  });

  it("lists the known parameters' own errors after the unknown ones", () => {
    expect(
      problemOf(['', 'x'], ['limit'], [{ field: 'limit', message: 'must be an integer' }]),
    ).toMatchObject({
      detail:
        'a query parameter with an empty name, x are not known parameters (limit); limit must be an integer',
      errors: [
        { field: '(query parameter with an empty name)' },
        { field: 'x' },
        { field: 'limit', message: 'must be an integer' },
      ],
    });
    expect(
      problemOf([], ['limit'], [{ field: 'limit', message: 'must appear once' }]),
    ).toMatchObject({
      detail: 'limit must appear once',
      errors: [{ field: 'limit', message: 'must appear once' }],
    });
  });
});
