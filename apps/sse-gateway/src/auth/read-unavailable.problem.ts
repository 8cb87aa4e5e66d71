import { ProblemException, problemType } from '@causeway/cqrs-core/nest';

/**
 * 503: a read model (presence, positions, groups) could not be read — Redis or MongoDB away.
 * Temporary, so with `Retry-After`, as command-api answers when its stores are away.
 */
export class ReadUnavailableProblem extends ProblemException {
  constructor(
    what: string,
    readonly retryAfterSeconds: number,
  ) {
    super({
      type: problemType('read-unavailable'),
      title: 'Service Unavailable',
      status: 503,
      detail: `${what} cannot be read right now; retry in ${retryAfterSeconds} s`,
    });
    this.name = 'ReadUnavailableProblem';
  }
}

/** `read()`, or a ReadUnavailableProblem when it fails (the cause is logged by the caller's filter). */
export async function readOrUnavailable<T>(
  what: string,
  retryAfterSeconds: number,
  read: () => Promise<T>,
): Promise<T> {
  try {
    return await read();
  } catch {
    throw new ReadUnavailableProblem(what, retryAfterSeconds);
  }
}
