import { type ArgumentsHost, Catch } from '@nestjs/common';
import { ProblemDetailsFilter } from '@causeway/cqrs-core/nest';
import { RateLimitedProblem } from './rate-limited.problem';
import { ReadUnavailableProblem } from './read-unavailable.problem';

/** The app-wide problem documents, plus `Retry-After` on a RateLimitedProblem's 429 and a ReadUnavailableProblem's 503. */
@Catch()
export class RetryAfterFilter extends ProblemDetailsFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    if (
      (exception instanceof RateLimitedProblem || exception instanceof ReadUnavailableProblem) &&
      host.getType() === 'http'
    )
      host
        .switchToHttp()
        .getResponse<{ setHeader(name: string, value: string): void }>()
        .setHeader('Retry-After', String(exception.retryAfterSeconds));
    super.catch(exception, host);
  }
}
