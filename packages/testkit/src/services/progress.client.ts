import { EventSource } from 'eventsource';
import { sseRequestHeaders } from './sse.client';

export interface ProgressReceived {
  event: 'progress' | 'recovery';
  id: string;
  data: Record<string, unknown>;
}

/**
 * A progress stream of the gateway (GET /api/v2/progress/subscribe[/{taskId}]) opened with the
 * `eventsource` client and an access token, keeping every `progress` and `recovery` event it
 * receives. `opened` resolves once the gateway answered 200 (rejects on a refusal); `until`
 * waits (30 s by default) for a condition on `received`; close it in afterAll.
 */
export function followProgress(url: string, token: string, lastEventId?: string) {
  const received: ProgressReceived[] = [];
  const waiters = new Set<() => void>();
  const source = new EventSource(url, {
    fetch: (input, init) =>
      fetch(input, { ...init, headers: sseRequestHeaders(init?.headers, token, lastEventId) }),
  });
  // Open once the gateway answered 200 and registered the stream: what is notified after is sent.
  const opened = new Promise<void>((resolve, reject) => {
    source.onopen = () => resolve();
    source.onerror = (error) => {
      if (source.readyState === EventSource.CLOSED) reject(new Error(`refused: ${error.message}`));
    };
  });
  for (const event of ['progress', 'recovery'] as const)
    source.addEventListener(event, (message) => {
      received.push({ event, id: message.lastEventId, data: JSON.parse(message.data as string) });
      for (const wake of waiters) wake();
    });
  const until = (done: () => boolean, what: string, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(received)}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { received, until, opened, close: () => source.close() };
}
