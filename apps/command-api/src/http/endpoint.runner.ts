import { Injectable, Logger } from '@nestjs/common';
import { traceRequest } from '@causeway/cqrs-core/opentelemetry';
import { SpanStatusCode } from '@opentelemetry/api';
import { ServerClockUnsynchronisedError } from '@causeway/platform';
import { CommandApiError, MalformedJsonError } from '../errors/command-api.errors';
import { toProblem } from '../errors/error.mapping';
import { CommandApiMetrics } from '../metrics/command-api.metrics';
import { type Answer, type ApiRequest, type ApiResponse, writeAnswer } from './http.types';
import { problemInstance } from './problem.instance';

/**
 * Runs one endpoint: writes its answer, or the problem document of whatever it threw, and
 * counts the outcome. Every refusal of command-api leaves through here (or the body reader).
 * Each endpoint refuses a query parameter (refuseQuery) once it has admitted the caller: a
 * client without a valid token learns that first (401), and a flood of them is rate limited.
 * Each request is a SERVER span named after the endpoint, child of the caller's `traceparent`,
 * and the commands it sends are its children (one trace to the handlers; see ADR 010).
 */
@Injectable()
export class EndpointRunner {
  private readonly logger = new Logger('CommandApi');

  constructor(private readonly metrics: CommandApiMetrics) {}

  async run(
    endpoint: string,
    request: ApiRequest,
    response: ApiResponse,
    work: () => Promise<Answer & { outcome: string }>,
  ): Promise<void> {
    await traceRequest(
      endpoint,
      request.headers,
      async (span) => {
        let status: number;
        try {
          const answer = await work();
          this.metrics.countRequest(request, endpoint, answer.outcome);
          writeAnswer(response, answer);
          status = answer.status;
        } catch (error) {
          const refusal = toProblem(error);
          status = refusal.status;
          if (status >= 500) {
            // A 503 of ours (a dependency is down: command-refused, command-unconfirmed,
            // idempotency-unavailable, clock-unsynchronised) is expected and was logged once, at warn, where it was
            // found; only the unexpected (a 500, a bug) is an error worth its stack.
            if (!(
              error instanceof CommandApiError || error instanceof ServerClockUnsynchronisedError
            ))
              this.logger.error(`${endpoint} failed: ${(error as Error)?.stack ?? String(error)}`);
            span.setStatus({ code: SpanStatusCode.ERROR, message: refusal.problem.title });
          }
          this.metrics.countRequest(request, endpoint, refusal.outcome);
          writeAnswer(response, {
            status,
            body: { ...refusal.problem, instance: problemInstance(request) },
            headers: refusal.headers,
            contentType: 'application/problem+json',
          });
        }
        span.setAttribute('http.response.status_code', status);
      },
      {
        attributes: {
          'http.request.method': request.method,
          'http.route': endpoint.slice(endpoint.indexOf(' ') + 1),
        },
      },
    );
  }
}

/** The JSON body of a REST request; `undefined` when there is none. */
export function jsonBody(request: ApiRequest): unknown {
  const body = request.commandApiBody;
  if (body?.kind === 'malformed') throw new MalformedJsonError(body.reason);
  return body?.kind === 'json' ? body.value : undefined;
}
