import { ProblemException, problemType } from '@causeway/cqrs-core/nest';

/** The most unknown parameter names a refusal lists (the rest are counted: "and 40 more"). */
export const UNKNOWN_NAMES_SHOWN = 10;

/** The longest part of an unknown parameter's name a refusal repeats (then "…"). */
export const UNKNOWN_NAME_CHARS = 64;

/**
 * How a parameter with an empty name (`?=1`, `?=`) is named: as "" it read as if the server had
 * lost the name. In parentheses in `errors`, as `(body)` and `(path)` name a part, not a field.
 */
const EMPTY_NAME = 'query parameter with an empty name';

/** A parameter that is wrong, as a problem document's `errors` lists it. */
export interface ParameterError {
  field: string;
  message: string;
}

/**
 * The 400 `invalid-request` of a query that is wrong: the parameters an endpoint does not take
 * (`unknown`, their names in the order given), then `errors` (the known parameters' own
 * problems): `detail` "<name> is not a known parameter (<known>)" (or "<a>, <b> are not known
 * parameters (…)"), then each error's "<field> <message>", joined by "; ". `known` lists what
 * the endpoint takes; none: "(this endpoint takes none)". Every app refuses a parameter it does
 * not know with it (command-api's endpoints take none; order-processor's page of `/user` takes
 * `limit` and `before`): ignored, a typo (`?limt=5`) was acted on as if it were not there.
 *
 * The names are the client's input, repeated back: the first UNKNOWN_NAMES_SHOWN alone, each cut
 * at UNKNOWN_NAME_CHARS, the rest counted. order-processor answered a URL of fifty 300-character
 * names with every one of them, twice (in `detail` and `errors`): 30 kB of the client's own text.
 */
export function queryRefusal(
  unknown: readonly string[],
  known: readonly string[],
  errors: readonly ParameterError[] = [],
): ProblemException {
  const takes = known.length > 0 ? known.join(', ') : 'this endpoint takes none';
  const message = `is not a known parameter (${takes})`;
  const shown = unknown.slice(0, UNKNOWN_NAMES_SHOWN).map(clipped);
  const more = unknown.length > shown.length ? ` and ${unknown.length - shown.length} more` : '';
  const said = shown.map((name) => (name === '' ? `a ${EMPTY_NAME}` : name));
  const details = errors.map(({ field, message }) => `${field} ${message}`);
  if (unknown.length === 1) details.unshift(`${said[0]} ${message}`);
  else if (unknown.length > 1)
    details.unshift(`${said.join(', ')}${more} are not known parameters (${takes})`);
  return new ProblemException({
    type: problemType('invalid-request'),
    title: 'Bad Request',
    status: 400,
    detail: details.join('; '),
    errors: [
      ...shown.map((name) => ({ field: name === '' ? `(${EMPTY_NAME})` : name, message })),
      ...errors,
    ],
  });
}

function clipped(name: string): string {
  return name.length <= UNKNOWN_NAME_CHARS ? name : `${name.slice(0, UNKNOWN_NAME_CHARS)}…`;
}
