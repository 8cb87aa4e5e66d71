import { type IncomingMessage, type ServerResponse } from 'node:http';
import { Controller, Get, Inject, Req, Res, UseFilters } from '@nestjs/common';
import { RetryAfterFilter } from '../auth/retry-after.filter';
import { EventStreamOpener } from './event-stream.opener';
import { SSE_HEADERS } from './sse.frames';
import { SseMetrics } from './sse.metrics';
import { answerRefusal } from './refusal.answer';

type Request = IncomingMessage & { query?: Record<string, unknown> };

/**
 * GET /events under Nest's routing: answers the requests the plain listener in front of Express
 * (`EventsListener`) hands on — refusals as problem documents, and any request it does not take
 * (e.g. `/events/`, or an app without that listener). Writes with plain node:http (`res.write`):
 * no interceptors, no compression, nothing buffered per connection beyond the socket's own buffer.
 */
@Controller()
@UseFilters(RetryAfterFilter)
export class EventsController {
  constructor(
    @Inject(EventStreamOpener) private readonly opener: EventStreamOpener,
    @Inject(SseMetrics) private readonly metrics: SseMetrics | undefined,
  ) {}

  @Get('events')
  async events(@Req() req: Request, @Res() res: ServerResponse): Promise<void> {
    const check = await this.opener.check(req, req);
    if (!check.ok) return answerRefusal(res, this.metrics, check);
    // HEAD (Express routes it here with GET): the answer GET would start with, and no stream —
    // it opened one before, counted against the limits and shown in presence until the client
    // went away.
    if (req.method === 'HEAD') {
      res.writeHead(200, SSE_HEADERS).end();
      return;
    }
    const started = await this.opener.start(req, res, check);
    if (started && 'ok' in started) answerRefusal(res, this.metrics, started);
  }
}
