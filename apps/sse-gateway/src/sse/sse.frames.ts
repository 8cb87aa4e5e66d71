import { toJsonRpcNotification } from '@causeway/contracts';

/**
 * SSE wire format. JSON.stringify never emits a raw newline, so one `data:` line always holds
 * the whole JSON-RPC notification.
 */
export function notificationFrame(
  id: string | undefined,
  method: string,
  params: Record<string, unknown>,
  retryMs?: number,
): string {
  const data = JSON.stringify(toJsonRpcNotification({ method, params }));
  return `${retryMs === undefined ? '' : `retry: ${retryMs}\n`}${id === undefined ? '' : `id: ${id}\n`}data: ${data}\n\n`;
}

/** A comment line: ignored by EventSource, keeps intermediaries from timing the stream out. */
export const HEARTBEAT_FRAME = ':\n\n';

export function retryFrame(ms: number): string {
  return `retry: ${Math.round(ms)}\n\n`;
}

/**
 * The headers of every event stream: no caching, no proxy buffering, never compressed
 * (`no-transform`: proxies and compression middleware leave it alone; `Content-Encoding:
 * identity` would say the same in a way RFC 9110 reserves for Accept-Encoding).
 */
export const SSE_HEADERS: Record<string, string> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};
