import { registeredCounter } from '@causeway/cqrs-core';
import { type Counter, type Registry } from 'prom-client';

const NAME = 'causeway_command_api_requests_total';

/**
 * `causeway_command_api_requests_total{endpoint, outcome}`: every request (and every call of a
 * JSON-RPC batch) by endpoint and outcome — `accepted`, `replayed`, `ok`, or the problem slug
 * (`invalid-fields`, `rate-limited`, …).
 */
export class CommandApiMetrics {
  private readonly requests: Counter<'endpoint' | 'outcome'>;

  constructor(registry: Registry) {
    this.requests = registeredCounter(registry, {
      name: NAME,
      help: 'Command API requests by endpoint and outcome',
      labelNames: ['endpoint', 'outcome'],
    });
  }

  count(endpoint: string, outcome: string): void {
    this.requests.inc({ endpoint, outcome });
  }
}
