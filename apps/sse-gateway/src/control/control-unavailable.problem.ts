import { ProblemException, problemType } from '@causeway/cqrs-core/nest';

/**
 * 503: an operator's disconnect (or revocation) could not be recorded or sent — Redis away.
 * Repeating it is safe: a revocation only moves forward, a disconnect of no stream does nothing.
 */
export class ControlUnavailableProblem extends ProblemException {
  constructor(readonly retryAfterSeconds: number) {
    super({
      type: problemType('control-unavailable'),
      title: 'Service Unavailable',
      status: 503,
      detail: `the disconnect could not be recorded or sent right now; retry in ${retryAfterSeconds} s`,
    });
    this.name = 'ControlUnavailableProblem';
  }
}
