import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { type Registry } from 'prom-client';
import { METRICS_REGISTRY } from './service.tokens';

interface TextResponse {
  setHeader(name: string, value: string): void;
  send(body: string): void;
}

/** `GET /metrics`: the service's Prometheus registry in text exposition format. */
@Controller()
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metrics(@Res() response: TextResponse): Promise<void> {
    response.setHeader('Content-Type', this.registry.contentType);
    response.send(await this.registry.metrics());
  }
}
