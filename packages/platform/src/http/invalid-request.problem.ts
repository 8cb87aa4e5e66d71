import { ProblemException, problemType } from '@causeway/cqrs-core/nest';

/**
 * The 400 `invalid-request` problem of one bad request parameter: `detail` "<field> <message>"
 * and `errors: [{ field, message }]`, the shape every app's other 400s have.
 */
export function invalidRequest(field: string, message: string): ProblemException {
  return new ProblemException({
    type: problemType('invalid-request'),
    title: 'Bad Request',
    status: 400,
    detail: `${field} ${message}`,
    errors: [{ field, message }],
  });
}
