import { Injectable, Logger } from '@nestjs/common';
import { runInTraceContext } from '@causeway/cqrs-core';
import { MalformedJsonError } from '../errors/command-api.errors';
import { toProblem } from '../errors/error.mapping';
import { CommandApiMetrics } from '../metrics/command-api.metrics';
import { type Answer, type ApiRequest, type ApiResponse, writeAnswer } from './http.types';
import { problemInstance } from './problem.instance';

/**
 * Runs one endpoint: writes its answer, or the problem document of whatever it threw, and
 * counts the outcome. The commands it sends join the trace of the request's `traceparent`. Every refusal of command-api leaves through here (or the body reader).
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
    try {
      // Commands sent while answering carry the caller's W3C trace context (`traceparent`).
      const answer = await runInTraceContext(request.headers, work);
      this.metrics.count(endpoint, answer.outcome);
      writeAnswer(response, answer);
    } catch (error) {
      const { status, problem, headers, outcome } = toProblem(error);
      if (status >= 500)
        this.logger.error(`${endpoint} failed: ${(error as Error)?.stack ?? String(error)}`);
      this.metrics.count(endpoint, outcome);
      writeAnswer(response, {
        status,
        body: { ...problem, instance: problemInstance(request) },
        headers,
        contentType: 'application/problem+json',
      });
    }
  }
}

/** The JSON body of a REST request; `undefined` when there is none. */
export function jsonBody(request: ApiRequest): unknown {
  const body = request.commandApiBody;
  if (body?.kind === 'malformed') throw new MalformedJsonError(body.reason);
  return body?.kind === 'json' ? body.value : undefined;
}
