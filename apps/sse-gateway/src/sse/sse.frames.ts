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

/**
 * A frame with an `id:` and nothing else: an EventSource that follows the WHATWG parsing rules
 * (browsers; Node's own) sets its last event id (the Last-Event-ID of its next reconnect) and
 * dispatches no event, so no script sees it. The heartbeat of a comment stream whose resume
 * point moved (SseHub.heartbeat). The `eventsource` npm package (eventsource-parser 3) drops
 * it: such clients move with `?heartbeat=event` (heartbeatEventFrame) and the closing frames.
 */
export function idFrame(id: string): string {
  return `id: ${id}\n\n`;
}

/** How a stream's heartbeats are sent: `?heartbeat=` of GET /events. */
export type HeartbeatKind = 'comment' | 'event';
export const HEARTBEAT_KINDS: readonly HeartbeatKind[] = ['comment', 'event'];

/**
 * The heartbeat of a stream opened with `?heartbeat=event`: an event named `heartbeat`, which
 * an EventSource dispatches to its `heartbeat` listeners (never to `onmessage`), so a client can
 * tell a silent stream (a frozen instance, a half-open connection) from a quiet one. Its id is
 * where the client may resume from (SseHub: moved on to what the hub dispatched, so a client
 * that receives nothing does not fall behind the log); its data is a JSON-RPC notification too.
 */
export function heartbeatEventFrame(id: string | undefined, serverTime: number): string {
  return `event: heartbeat\n${id === undefined ? '' : `id: ${id}\n`}data: {"jsonrpc":"2.0","method":"heartbeat","params":{"serverTime":${serverTime}}}\n\n`;
}

/**
 * A `retry:` hint, before the hub ends a stream; with `id`, where the client resumes from (an
 * EventSource takes it as from an id-only frame: see idFrame).
 */
export function retryFrame(ms: number, id?: string): string {
  return `retry: ${Math.round(ms)}\n${id === undefined ? '' : `id: ${id}\n`}\n`;
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
