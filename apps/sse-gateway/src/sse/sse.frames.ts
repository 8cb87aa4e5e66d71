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

/** How a stream's heartbeats are sent: `?heartbeat=` of GET /events. */
export type HeartbeatKind = 'comment' | 'event';
export const HEARTBEAT_KINDS: readonly HeartbeatKind[] = ['comment', 'event'];

/**
 * The heartbeat of a stream opened with `?heartbeat=event`: an event named `heartbeat`, which
 * an EventSource dispatches to its `heartbeat` listeners (never to `onmessage`), so a client can
 * tell a silent stream (a frozen instance, a half-open connection) from a quiet one. It repeats
 * the stream's last id, as every frame has one; its data is a JSON-RPC notification too.
 */
export function heartbeatEventFrame(id: string | undefined, serverTime: number): string {
  return `event: heartbeat\n${id === undefined ? '' : `id: ${id}\n`}data: {"jsonrpc":"2.0","method":"heartbeat","params":{"serverTime":${serverTime}}}\n\n`;
}

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
