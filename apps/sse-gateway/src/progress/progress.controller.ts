import { type IncomingMessage, type ServerResponse } from 'node:http';
import { Controller, Get, Inject, Param, Req, Res, UseFilters } from '@nestjs/common';
import { ProblemException, problemType } from '@causeway/cqrs-core/nest';
import { TaskId } from '@causeway/contracts';
import { pathParameter, type ProgressStatuses } from '@causeway/platform';
import { readOrUnavailable } from '../auth/read-unavailable.problem';
import { RetryAfterFilter } from '../auth/retry-after.filter';
import { GATEWAY_OPTIONS, type GatewayModuleOptions } from '../gateway/gateway.options';
import { DEFAULT_GATEWAY_SETTINGS } from '../gateway/gateway.settings';
import { EventStreamOpener } from '../sse/event-stream.opener';
import { SSE_HEADERS } from '../sse/sse.frames';
import { SseMetrics } from '../sse/sse.metrics';
import { PROGRESS_STATUSES } from './progress-statuses.token';
import { progressView } from './progress.view';
import { answerRefusal } from '../sse/refusal.answer';

type Request = IncomingMessage & { query?: Record<string, unknown> };

/**
 * The progress streams (ADR 015 point 4, SPEC S3-4/S3-5): GET /api/v2/progress/subscribe (all
 * the caller's tasks) and /subscribe/{taskId} (one of them). The same credentials, limits,
 * heartbeats and Last-Event-ID resume as GET /events (EventStreamOpener, SseHub); what they
 * show of the log is `progressView`'s. Few next to /events, so served by Nest, without a
 * listener in front of Express. `/subscribe/{taskId}` of another user's task is 404; of a task
 * with no status (not started yet, or expired) it opens and waits for the task's events; of an
 * id that is no task id (contracts' TaskId) it is 400 naming `taskId`, before the credential is
 * looked at and without costing a point of the caller's rate.
 */
@Controller('api/v2/progress')
@UseFilters(RetryAfterFilter)
export class ProgressController {
  constructor(
    @Inject(EventStreamOpener) private readonly opener: EventStreamOpener,
    @Inject(PROGRESS_STATUSES) private readonly statuses: ProgressStatuses,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayModuleOptions,
    @Inject(SseMetrics) private readonly metrics: SseMetrics | undefined,
  ) {}

  @Get('subscribe')
  async all(@Req() req: Request, @Res() res: ServerResponse): Promise<void> {
    await this.stream(req, res);
  }

  @Get('subscribe/:taskId')
  async one(
    @Req() req: Request,
    @Res() res: ServerResponse,
    @Param('taskId') taskId: string,
  ): Promise<void> {
    await this.stream(req, res, taskId);
  }

  private async stream(req: Request, res: ServerResponse, taskId?: string): Promise<void> {
    // An id no task can have (a NUL, 2 000 characters) would be followed for ever: 400, as
    // order-processor's reads of the same id answer. Before the credential and the rate, as a
    // malformed query of GET /events: charged first, a page retrying a mistyped URL used up its
    // user's rate (429 to their moves and streams for the rest of the window).
    if (taskId !== undefined) pathParameter(TaskId, 'taskId', taskId);
    const check = await this.opener.check(req, req);
    if (!check.ok) return answerRefusal(res, this.metrics, check);
    const { userId } = check.caller;
    if (taskId !== undefined) {
      const retryAfter =
        this.options.settings?.retryAfterSeconds ?? DEFAULT_GATEWAY_SETTINGS.retryAfterSeconds;
      const status = await readOrUnavailable('the task’s progress', retryAfter, () =>
        this.statuses.get(taskId),
      );
      // Another user's task: 404. A task without a status yet is followed: the 202 of
      // POST /api/v2/progress/orders hands out this URL before order-processor has stored
      // anything of the order (Kafka lag, a rebalance), and an EventSource never reconnects
      // after a 404. Following an id that is not the caller's shows nothing: progress
      // notifications go to their task's user only.
      if (status !== undefined && status.userId !== userId) throw taskNotFound(taskId);
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, SSE_HEADERS).end();
      return;
    }
    const started = await this.opener.start(
      req,
      res,
      check,
      progressView(this.statuses, userId, taskId),
    );
    if (started && 'ok' in started) answerRefusal(res, this.metrics, started);
  }
}

function taskNotFound(taskId: string): ProblemException {
  return new ProblemException({
    type: problemType('not-found'),
    title: 'Not Found',
    status: 404,
    detail: `no task ${JSON.stringify(taskId.slice(0, 128))} of yours`,
  });
}
