import { toProblem } from '../errors/error.mapping';
import { type ApiRequest } from './http.types';
import { refuseQuery } from './query.refusal';

/** The problem document refuseQuery answers `target` with (undefined when it lets it through). */
function refusalOf(target: string) {
  try {
    refuseQuery({ originalUrl: target } as ApiRequest);
    return undefined;
  } catch (error) {
    return toProblem(error);
  }
}

describe('refuseQuery', () => {
  it('lets a target without parameters through, a bare ? included', () => {
    expect(refusalOf('/rpc')).toBeUndefined();
    expect(refusalOf('/rpc?')).toBeUndefined();
    expect(refusalOf('/rpc?&')).toBeUndefined();
  });

  // `?=1` was refused naming the field "" ("" is not a known parameter): a problem a client
  // could not act on, which read as if the server had lost the name.
  it('names a parameter with an empty name as such, alone or among others', () => {
    const message = 'is not a known parameter (this endpoint takes none)';
    expect(refusalOf('/rpc?=1')).toMatchObject({
      status: 400,
      problem: {
        detail: `a query parameter with an empty name ${message}`,
        errors: [{ field: '(query parameter with an empty name)', message }],
      },
    });
    expect(refusalOf('/api/trainers/ash/move?=&dryRun=1')).toMatchObject({
      status: 400,
      problem: {
        detail:
          'a query parameter with an empty name, dryRun are not known parameters (this endpoint takes none)',
        errors: [
          { field: '(query parameter with an empty name)', message },
          { field: 'dryRun', message },
        ],
      },
    });
  });
});
