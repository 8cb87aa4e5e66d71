import { EventSource } from 'eventsource';

/** One SSE frame as the client library delivered it. */
export interface SseFrame {
  id: string;
  method: string;
  params: Record<string, unknown>;
}

export interface SseStream {
  /** Every frame received so far, in order. */
  readonly frames: SseFrame[];
  /** The id of the last frame received ('' before any). */
  lastId(): string;
  /** Resolves with the first frame (from the start) matching, or rejects after the timeout naming what it waited for. */
  waitFor(match: (frame: SseFrame) => boolean, what: string, timeoutMs?: number): Promise<SseFrame>;
  /** Resolves once at least `count` frames match. */
  waitForCount(
    match: (frame: SseFrame) => boolean,
    count: number,
    what: string,
    timeoutMs?: number,
  ): Promise<SseFrame[]>;
  /** Closes the stream (the client will not reconnect). */
  close(): void;
  /** Errors the client library reported (HTTP status of a refused connection, network errors). */
  readonly errors: { status?: number; message?: string }[];
}

/**
 * Opens an SSE stream with the `eventsource` package — a real client library, with
 * Last-Event-ID — sending the bearer token as a header (or nothing if `token` is omitted) and
 * parsing each frame's data as a JSON-RPC notification.
 */
export function openSseStream(
  url: string,
  options: { token?: string; lastEventId?: string; reconnect?: boolean } = {},
): Promise<SseStream> {
  const frames: SseFrame[] = [];
  const errors: { status?: number; message?: string }[] = [];
  const waiters = new Set<() => void>();
  const source = new EventSource(url, {
    fetch: (input, init) =>
      fetch(input, {
        ...init,
        headers: sseRequestHeaders(init?.headers, options.token, options.lastEventId),
      }),
  });
  source.onmessage = (event) => {
    const message = JSON.parse(event.data as string) as {
      method: string;
      params: Record<string, unknown>;
    };
    frames.push({ id: event.lastEventId, method: message.method, params: message.params ?? {} });
    for (const wake of waiters) wake();
  };
  source.onerror = (event) => {
    errors.push({
      status: (event as { code?: number }).code,
      message: (event as { message?: string }).message,
    });
    if (options.reconnect === false) source.close();
    for (const wake of waiters) wake();
  };

  const waitForCount = (
    match: (frame: SseFrame) => boolean,
    count: number,
    what: string,
    timeoutMs = 10_000,
  ): Promise<SseFrame[]> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = frames.filter(match);
        if (found.length >= count) {
          cleanup();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; got ${frames.filter(match).length}/${count}; frames: ${JSON.stringify(frames.map((f) => [f.id, f.method]))}; errors: ${JSON.stringify(errors)}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const stream: SseStream = {
    frames,
    errors,
    lastId: () => frames.at(-1)?.id ?? '',
    waitForCount,
    waitFor: async (match, what, timeoutMs) => (await waitForCount(match, 1, what, timeoutMs))[0]!,
    close: () => source.close(),
  };
  return new Promise((resolve, reject) => {
    source.onopen = () => resolve(stream);
    const failed = source.onerror;
    source.onerror = (event) => {
      failed?.call(source, event);
      if (frames.length === 0 && source.readyState === EventSource.CLOSED)
        reject(
          Object.assign(
            new Error(
              `SSE connection refused: ${(event as { code?: number }).code ?? ''} ${(event as { message?: string }).message ?? ''}`,
            ),
            { status: (event as { code?: number }).code },
          ),
        );
    };
  });
}

/**
 * The headers of one (re)connection of an `eventsource` client: the library's own, the bearer
 * `token`, and `lastEventId` until the library has an id of its own to resume from (it then
 * sends `Last-Event-ID` itself; both would reach the server joined, `<newer>, <first>`, an id
 * it refuses).
 */
export function sseRequestHeaders(
  headers: ConstructorParameters<typeof Headers>[0],
  token?: string,
  lastEventId?: string,
): Record<string, string> {
  const sent = Object.fromEntries(new Headers(headers));
  if (token) sent.authorization = `Bearer ${token}`;
  if (lastEventId && sent['last-event-id'] === undefined) sent['last-event-id'] = lastEventId;
  return sent;
}
