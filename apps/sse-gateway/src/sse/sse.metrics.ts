import { registeredCounter, registeredGauge } from '@causeway/cqrs-core';
import { type Counter, type Gauge, type Registry } from 'prom-client';

/** What an SSE gateway instance reports at /metrics. */
export class SseMetrics {
  readonly connections: Gauge;
  readonly frames: Counter;
  readonly slowDropped: Counter;
  readonly resumes: Counter<'outcome'>;
  readonly rejected: Counter<'reason'>;
  readonly closed: Counter<'reason'>;

  constructor(registry: Registry) {
    this.connections = registeredGauge(registry, {
      name: 'causeway_sse_connections',
      help: 'Open SSE connections on this instance',
    });
    this.frames = registeredCounter(registry, {
      name: 'causeway_sse_frames_sent_total',
      help: 'Notification frames written to SSE connections',
    });
    this.slowDropped = registeredCounter(registry, {
      name: 'causeway_sse_slow_clients_dropped_total',
      help: 'Connections dropped as too slow: unwritten data beyond BUFFER_MAX_BYTES, or not emptied for STALL_TIMEOUT_MS',
    });
    this.resumes = registeredCounter(registry, {
      name: 'causeway_sse_streams_total',
      help: 'Streams opened, by how they started: new, replayed or recovery',
      labelNames: ['outcome'],
    });
    this.rejected = registeredCounter(registry, {
      name: 'causeway_sse_rejected_total',
      help: 'Stream requests refused: unauthorized, rate-limited, instance-full, user-limit, not-ready, clock-unsynchronised, disconnected (204 to a reconnect after an operator disconnect)',
      labelNames: ['reason'],
    });
    this.closed = registeredCounter(registry, {
      name: 'causeway_sse_closed_total',
      help: 'Streams ended, by why: client, timeout, slow, shutdown, error, expired (the credential), disconnected (an operator), revoked (all tokens of the user), log-unreachable (the instance could not read its notification log), log-gap (the log trimmed entries before the instance read them)',
      labelNames: ['reason'],
    });
  }
}
