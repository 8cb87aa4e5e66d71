import { type ArgumentsHost, Catch } from '@nestjs/common';
import { ProblemDetailsFilter } from '@causeway/cqrs-core/nest';
import { RateLimitedProblem } from './rate-limited.problem';
import { ControlUnavailableProblem } from '../control/control-unavailable.problem';
import { ReadUnavailableProblem } from './read-unavailable.problem';

/** The app-wide problem documents, plus `Retry-After` on a 429 (RateLimitedProblem) and a 503 (ReadUnavailableProblem, ControlUnavailableProblem). */
@Catch()
export class RetryAfterFilter extends ProblemDetailsFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    if (
      (exception instanceof RateLimitedProblem ||
        exception instanceof ReadUnavailableProblem ||
        exception instanceof ControlUnavailableProblem) &&
      host.getType() === 'http'
    )
      host
        .switchToHttp()
        .getResponse<{ setHeader(name: string, value: string): void }>()
        .setHeader('Retry-After', String(exception.retryAfterSeconds));
    super.catch(exception, host);
  }
}
