import { type ServerResponse } from 'node:http';
import { type Refusal } from './event-stream.opener';
import { type SseMetrics } from './sse.metrics';

/**
 * Answers a stream that was not opened (GET /events, the progress streams): counts the refusal,
 * then throws its problem (answered with its Retry-After by the problem filter), or answers 204.
 */
export function answerRefusal(
  res: ServerResponse,
  metrics: SseMetrics | undefined,
  refusal: Refusal,
): void {
  if (refusal.reason) metrics?.rejected.inc({ reason: refusal.reason });
  if (refusal.noContent) {
    res.writeHead(204, { 'Cache-Control': 'no-store' }).end();
    return;
  }
  if (refusal.retryAfterSeconds !== undefined)
    res.setHeader('Retry-After', String(refusal.retryAfterSeconds));
  throw refusal.error;
}
