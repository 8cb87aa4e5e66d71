import { EventSource } from 'eventsource';

export interface ReceivedFrame {
  id: string;
  method: string;
  params: Record<string, unknown>;
}

/**
 * An EventSource (the `eventsource` package, as a browser would behave) whose requests go to
 * whatever `target()` returns at the time: a load balancer in front of the gateways. It
 * reconnects by itself with Last-Event-ID after a drop.
 *
 * With `watchdog` (open the stream with `?heartbeat=event`), it does what README "A silent
 * stream" asks of a client: a stream that carries nothing — no frame, no `heartbeat` event —
 * for 3 of its session's `heartbeatMs` is given up, and a new one opened with the last id.
 */
export class SseClient {
  readonly frames: ReceivedFrame[] = [];
  source: EventSource;
  /** The last `id:` seen (what the browser would send as Last-Event-ID). */
  lastId: string | undefined;
  errors = 0;
  /** `heartbeat` events received. */
  heartbeats = 0;
  /** Streams the watchdog gave up on as silent. */
  silences = 0;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    private readonly target: () => string,
    private readonly headers: Record<string, string> = {},
    private readonly path = '/events',
    private readonly options: { watchdog?: boolean } = {},
  ) {
    this.source = this.connect();
  }

  private connect(): EventSource {
    const source = new EventSource(`http://gateway${this.path}`, {
      fetch: (url, init) => {
        const { pathname, search } = new URL(url);
        const headers = new Headers(init.headers);
        // A stream opened anew resumes where the silent one was (EventSource sends the header
        // itself only when it reconnects on its own).
        if (this.lastId && !headers.has('last-event-id')) headers.set('last-event-id', this.lastId);
        for (const [name, value] of Object.entries(this.headers)) headers.set(name, value);
        return fetch(`${this.target()}${pathname}${search}`, { ...init, headers });
      },
    });
    source.onmessage = (event) => {
      if (event.lastEventId) this.lastId = event.lastEventId;
      const data = JSON.parse(event.data as string) as {
        method: string;
        params: Record<string, unknown>;
      };
      this.frames.push({ id: event.lastEventId, method: data.method, params: data.params });
      this.arm();
    };
    source.addEventListener('heartbeat', (event) => {
      if (event.lastEventId) this.lastId = event.lastEventId;
      this.heartbeats += 1;
      this.arm();
    });
    source.onerror = () => {
      this.errors += 1;
    };
    return source;
  }

  /** Restarts the watchdog: 3 heartbeat intervals of the latest session from now. */
  private arm(): void {
    const heartbeatMs = this.sessions().at(-1)?.params.heartbeatMs;
    if (!this.options.watchdog || typeof heartbeatMs !== 'number') return;
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.silences += 1;
      this.source.close();
      this.source = this.connect();
    }, 3 * heartbeatMs);
    this.watchdog.unref();
  }

  notifications(method?: string): ReceivedFrame[] {
    return this.frames.filter((frame) => !method || frame.method === method);
  }

  /** The `n` params of the frames of one method, in arrival order. */
  ns(method = 'test.note'): unknown[] {
    return this.notifications(method).map((frame) => frame.params.n);
  }

  sessions(): ReceivedFrame[] {
    return this.notifications('session');
  }

  async waitFor(
    check: (client: SseClient) => boolean,
    what: string,
    timeoutMs = 15_000,
  ): Promise<void> {
    await until(
      () => check(this),
      what,
      timeoutMs,
      () => JSON.stringify(this.frames.slice(-5)),
    );
  }

  close(): void {
    clearTimeout(this.watchdog);
    this.source.close();
  }
}

export async function until(
  probe: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
  detail: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} ${detail()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
