import { ProblemException, problemType } from '@causeway/cqrs-core/nest';

/** 429: the caller went beyond their rate (RATE_LIMIT_POINTS per RATE_LIMIT_WINDOW_S). */
export class RateLimitedProblem extends ProblemException {
  constructor(readonly retryAfterSeconds: number) {
    super({
      type: problemType('rate-limited'),
      title: 'Too Many Requests',
      status: 429,
      detail: `too many requests; retry in ${retryAfterSeconds} s`,
    });
    this.name = 'RateLimitedProblem';
  }
}
