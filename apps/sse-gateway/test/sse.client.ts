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
 */
export class SseClient {
  readonly frames: ReceivedFrame[] = [];
  readonly source: EventSource;
  /** The last `id:` seen (what the browser would send as Last-Event-ID). */
  lastId: string | undefined;
  errors = 0;

  constructor(target: () => string, headers: Record<string, string> = {}, path = '/events') {
    this.source = new EventSource(`http://gateway${path}`, {
      fetch: (url, init) => {
        const { pathname, search } = new URL(url);
        return fetch(`${target()}${pathname}${search}`, {
          ...init,
          headers: { ...init.headers, ...headers },
        });
      },
    });
    this.source.onmessage = (event) => {
      if (event.lastEventId) this.lastId = event.lastEventId;
      const data = JSON.parse(event.data as string) as {
        method: string;
        params: Record<string, unknown>;
      };
      this.frames.push({ id: event.lastEventId, method: data.method, params: data.params });
    };
    this.source.onerror = () => {
      this.errors += 1;
    };
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
