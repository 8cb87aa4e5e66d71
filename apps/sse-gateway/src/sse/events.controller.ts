import { type IncomingMessage, type ServerResponse } from 'node:http';
import { Controller, Get, Inject, Req, Res, UseFilters } from '@nestjs/common';
import { ProblemDetailsFilter, ProblemException } from '@causeway/cqrs-core/nest';
import { StreamAuthenticator } from '../auth/stream.authenticator';
import { GATEWAY_OPTIONS, type GatewayModuleOptions } from '../gateway/gateway.options';
import { SSE_HEADERS } from './sse.frames';
import { SseHub } from './sse.hub';
import { SseMetrics } from './sse.metrics';

type Request = IncomingMessage & { query?: Record<string, unknown> };

/**
 * GET /events: the notification stream (ADR 007). Written with plain node:http (`res.write`)
 * under Nest's routing: no interceptors, no compression, nothing buffered per connection beyond
 * the socket's own buffer.
 */
@Controller()
@UseFilters(ProblemDetailsFilter)
export class EventsController {
  constructor(
    @Inject(SseHub) private readonly hub: SseHub,
    @Inject(StreamAuthenticator) private readonly auth: StreamAuthenticator,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayModuleOptions,
    @Inject(SseMetrics) private readonly metrics: SseMetrics | undefined,
  ) {}

  @Get('events')
  async events(@Req() req: Request, @Res() res: ServerResponse): Promise<void> {
    const caller = await this.auth.stream(req).catch((error: unknown) => {
      this.metrics?.rejected.inc({ reason: 'unauthorized' });
      throw error;
    });
    const lastEventId = this.lastEventId(req);
    const admission = this.hub.admit(caller.userId);
    if (!admission.ok) {
      this.metrics?.rejected.inc({ reason: admission.reason });
      res.setHeader('Retry-After', String(admission.retryAfterSeconds));
      throw new ProblemException({
        title: admission.status === 503 ? 'Service Unavailable' : 'Too Many Requests',
        status: admission.status,
        detail: admission.detail,
      });
    }
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
    req.socket.setNoDelay(true);
    req.socket.setKeepAlive(true);
    req.socket.setTimeout(0);
    await this.hub.open(caller, res, lastEventId);
  }

  private lastEventId(req: Request): string | undefined {
    const header = req.headers['last-event-id'];
    const query = req.query?.lastEventId;
    const value =
      (typeof header === 'string' && header) || (typeof query === 'string' && query) || undefined;
    if (value === undefined) return undefined;
    if (!this.options.notifications.isId(value))
      throw new ProblemException({
        title: 'Bad Request',
        status: 400,
        detail: `Last-Event-ID "${value.slice(0, 64)}" is not an event id of this stream`,
        errors: [{ field: 'Last-Event-ID', problem: 'must be an id received in an `id:` line' }],
      });
    return value;
  }
}
