import { type IncomingMessage, type ServerResponse } from 'node:http';
import { testNotification } from '@causeway/platform/testing';
import { type RateLimiterAbstract } from 'rate-limiter-flexible';
import { type GatewayTestApp, startGatewayTestApp } from '../testing/gateway.test-app';

/**
 * MAX_CONNECTIONS and MAX_CONNECTIONS_PER_USER hold for opens that arrive at once: a request is
 * admitted in the tick its stream is registered, not before its token check and replay wait.
 *
 * The rate limiter answers the requests that arrive together at once, as Redis answers a
 * pipeline of them in one read: their checks then resume in one tick, before any stream opens.
 */
let batch: Promise<void> | undefined;
const rateLimiter = {
  consume: () =>
    (batch ??= new Promise<void>((resolve) =>
      setTimeout(() => {
        batch = undefined;
        resolve();
      }, 50),
    )),
} as unknown as RateLimiterAbstract;

describe('GET /events limits under simultaneous opens', () => {
  const MAX = 4;
  const PER_USER = 2;
  let app: GatewayTestApp;
  const open: AbortController[] = [];
  beforeAll(async () => {
    app = await startGatewayTestApp({
      settings: { maxConnections: MAX, maxConnectionsPerUser: PER_USER },
      rateLimiter,
    });
  });
  afterEach(async () => {
    for (const controller of open.splice(0)) controller.abort();
    await until(() => app.hub.size === 0, 'every stream to close');
  });
  afterAll(() => app.close());

  interface Outcome {
    status: number;
    retryAfter: string | null;
    type: unknown;
  }

  /** One GET /events; an opened stream stays open (until afterEach). */
  async function request(headers: Record<string, string>, query = ''): Promise<Outcome> {
    const controller = new AbortController();
    const response = await fetch(`${app.url}/events${query}`, {
      headers,
      signal: controller.signal,
    });
    if (response.status === 200) {
      open.push(controller);
      return { status: 200, retryAfter: null, type: undefined };
    }
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const body = (await response.json()) as { type: unknown };
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      type: body.type,
    };
  }

  const refused = (status: number, reason: string): Outcome => ({
    status,
    retryAfter: '5',
    type: `https://causeway.dev/problems/${reason}`,
  });

  const sorted = (outcomes: Outcome[]) => [...outcomes].sort((a, b) => a.status - b.status);

  it("admits one user's simultaneous opens up to the per-user limit, and 429 user-limit beyond", async () => {
    const headers = await app.bearer('ash');
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => request(headers)));
    expect(sorted(outcomes)).toEqual([
      ...Array.from({ length: PER_USER }, () => ({
        status: 200,
        retryAfter: null,
        type: undefined,
      })),
      ...Array.from({ length: 8 - PER_USER }, () => refused(429, 'user-limit')),
    ]);
    expect(app.hub.size).toBe(PER_USER);
    expect(await app.metric('causeway_sse_connections')).toBe(PER_USER);
  });

  it("admits one user's simultaneous resumes (Last-Event-ID) up to the per-user limit", async () => {
    await app.log.append(testNotification({ targetType: 'user', targetIds: ['misty'] }));
    const headers = { ...(await app.bearer('misty')), 'Last-Event-ID': '0-0' };
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => request(headers)));
    expect(outcomes.filter((outcome) => outcome.status === 200)).toHaveLength(PER_USER);
    expect(outcomes.filter((outcome) => outcome.status !== 200)).toEqual(
      Array.from({ length: 8 - PER_USER }, () => refused(429, 'user-limit')),
    );
    expect(app.hub.size).toBe(PER_USER);
  });

  it('admits simultaneous opens of many users up to MAX_CONNECTIONS, and 503 instance-full beyond', async () => {
    const users = await Promise.all(
      Array.from({ length: 10 }, (_, i) => app.bearer(`trainer-${i}`)),
    );
    const outcomes = await Promise.all(users.map((headers) => request(headers)));
    expect(sorted(outcomes)).toEqual([
      ...Array.from({ length: MAX }, () => ({ status: 200, retryAfter: null, type: undefined })),
      ...Array.from({ length: 10 - MAX }, () => refused(503, 'instance-full')),
    ]);
    expect(app.hub.size).toBe(MAX);
    expect(await app.metric('causeway_sse_connections')).toBe(MAX);
  });

  it('keeps no room taken by refused, aborted or HEAD opens: once streams close, opens succeed', async () => {
    // Requests the server has not finished with (a stream's ends when it closes).
    let unfinished = 0;
    const track = (_req: IncomingMessage, res: ServerResponse) => {
      unfinished += 1;
      res.once('close', () => (unfinished -= 1));
    };
    app.server.on('request', track);
    try {
      const headers = await app.bearer('brock');
      // HEAD answers like GET and opens nothing.
      for (let i = 0; i < 3; i++)
        expect((await fetch(`${app.url}/events`, { method: 'HEAD', headers })).status).toBe(200);
      // Opens whose clients give up before the answer.
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          const controller = new AbortController();
          const pending = fetch(`${app.url}/events`, { headers, signal: controller.signal });
          setImmediate(() => controller.abort());
          await pending.catch(() => undefined);
        }),
      );
      // Opens at once: beyond the limit refused, the admitted ones closed by their clients.
      const first = await Promise.all(Array.from({ length: 5 }, () => request(headers)));
      expect(first.filter((outcome) => outcome.status === 200).length).toBeLessThanOrEqual(
        PER_USER,
      );
      for (const controller of open.splice(0)) controller.abort();
      await until(() => unfinished === 0, 'the server to finish every request');
      expect(app.hub.size).toBe(0);
      expect(await app.metric('causeway_sse_connections')).toBe(0);
      const again = await Promise.all(Array.from({ length: PER_USER }, () => request(headers)));
      expect(again.map((outcome) => outcome.status)).toEqual([200, 200]);
    } finally {
      app.server.off('request', track);
    }
  });
});

async function until(probe: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
