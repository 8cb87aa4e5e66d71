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

  /** Requests counted with `countRequest`: the ones `countAnswer` leaves alone. */
  private readonly counted = new WeakSet<object>();

  /** Counts one series: a JSON-RPC call (a request is counted with `countRequest`). */
  count(endpoint: string, outcome: string): void {
    this.requests.inc({ endpoint, outcome });
  }

  /** Counts `request`'s outcome, as the endpoint or the body reader that answered it says. */
  countRequest(request: object, endpoint: string, outcome: string): void {
    this.counted.add(request);
    this.count(endpoint, outcome);
  }

  /**
   * Counts a request once it was answered (`http-<status>`) unless `countRequest` did: an answer
   * of Express or Nest (a 405, a 400 for a path Express cannot decode, a bug's 500), so that
   * every answer of a command endpoint is counted, once.
   */
  countAnswer(request: object, endpoint: string, status: number): void {
    if (!this.counted.has(request)) this.count(endpoint, `http-${status}`);
  }
}
