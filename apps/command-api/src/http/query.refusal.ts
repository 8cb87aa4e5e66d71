import { ProblemException, problemType } from '@causeway/cqrs-core/nest';
import { clip } from '../errors/command-api.errors';
import { type ApiRequest } from './http.types';

/** The most parameter names a refusal lists (the rest are counted). */
const NAMES_SHOWN = 10;

/**
 * How a parameter with an empty name (`?=1`, `?=`) is named: as "" it read as if the server had
 * lost the name. In parentheses in `errors`, as `(body)` and `(path)` name a part, not a field.
 */
const EMPTY_NAME = 'query parameter with an empty name';

/**
 * command-api's endpoints take no query parameter: one given is refused, 400 `invalid-request`
 * naming each (names only: a value may be a token), as the other apps refuse a parameter they do
 * not know (order-processor's `?limt=`). Ignored, a typo or a misplaced `?trainerId=` was acted on
 * as if it were not there. A bare `?` has none. Each endpoint calls it once it has admitted the
 * caller (authenticated and charged, CallerGate): a request without a valid token is a 401 (and a
 * flood of them a 429) whatever its query, as a client without a token must learn it needs one.
 */
export function refuseQuery(request: ApiRequest): void {
  const at = request.originalUrl.indexOf('?');
  if (at < 0) return;
  const names = [...new Set(new URLSearchParams(request.originalUrl.slice(at + 1)).keys())];
  if (names.length === 0) return;
  const message = 'is not a known parameter (this endpoint takes none)';
  const shown = names.slice(0, NAMES_SHOWN).map((name) => clip(name));
  const more = names.length > shown.length ? ` and ${names.length - shown.length} more` : '';
  const said = shown.map((name) => (name === '' ? `a ${EMPTY_NAME}` : name));
  throw new ProblemException({
    type: problemType('invalid-request'),
    title: 'Bad Request',
    status: 400,
    detail:
      names.length === 1
        ? `${said[0]} ${message}`
        : `${said.join(', ')}${more} are not known parameters (this endpoint takes none)`,
    errors: shown.map((name) => ({ field: name === '' ? `(${EMPTY_NAME})` : name, message })),
  });
}
