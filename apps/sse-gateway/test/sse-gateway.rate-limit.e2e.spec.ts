import path from 'node:path';
import { TokenService } from '@causeway/platform';
import {
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import Redis from 'ioredis';

/**
 * The per-caller rate limit of the gateway's endpoints, on built processes over real Redis: a
 * small RATE_LIMIT_POINTS in a long window, so that nothing here depends on timing.
 */
const ns = testNamespace('sserate');
const appDir = path.join(__dirname, '..');
const secret = `jwt-${ns.id}-0123456789-0123456789`;
const adminToken = `admin-${ns.id}-0123456789`;
const tokens = new TokenService({ secret });
const POINTS = 5;
const env = (instance: string, extra: Record<string, string> = {}) => ({
  REDIS_URL: ns.redisUrl,
  ADMIN_TOKEN: adminToken,
  JWT_SECRET: secret,
  TOPIC_PREFIX: ns.id,
  INSTANCE_ID: instance,
  RATE_LIMIT_POINTS: String(POINTS),
  RATE_LIMIT_WINDOW_S: '60',
  // Shorter than the flood below keeps a gateway's event loop busy: a counter's reply that came
  // in time must not time out unread (the limiter would let the request through).
  REDIS_COMMAND_TIMEOUT_MS: '300',
  ...extra,
});

const started: ServiceProcess[] = [];
async function startGateway(instance: string, extra: Record<string, string> = {}) {
  const gateway = await startServiceProcess({ appDir, env: env(instance, extra) });
  started.push(gateway);
  await waitForStatus(`${gateway.url}/health/ready`, 200);
  return gateway;
}

let user = 0;
/** A user no other test has charged anything to. */
const freshUser = () => `${ns.id}-user-${++user}`;
async function bearer(userId: string) {
  return { Authorization: `Bearer ${(await tokens.issue(userId)).token}` };
}

interface Answer {
  status: number;
  contentType: string | null;
  retryAfter: string | null;
  setCookie: string | null;
  /** Each Set-Cookie header apart. */
  setCookies: string[];
  body: Record<string, unknown> | undefined;
}

/** One request; an event stream is closed as soon as its headers arrived. */
async function call(
  gateway: ServiceProcess,
  method: string,
  target: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const controller = new AbortController();
  const response = await fetch(`${gateway.url}${target}`, {
    method,
    headers,
    signal: controller.signal,
  });
  const contentType = response.headers.get('content-type');
  const retryAfter = response.headers.get('retry-after');
  const setCookie = response.headers.get('set-cookie');
  const setCookies = response.headers.getSetCookie();
  if (contentType?.startsWith('text/event-stream')) {
    controller.abort();
    return {
      status: response.status,
      contentType,
      retryAfter,
      setCookie,
      setCookies,
      body: undefined,
    };
  }
  const text = await response.text();
  return {
    status: response.status,
    contentType,
    retryAfter,
    setCookie,
    setCookies,
    body: contentType?.includes('json') ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}

function expectRateLimited(answer: Answer) {
  expect(answer.status).toBe(429);
  expect(answer.contentType).toMatch(/^application\/problem\+json/);
  expect(answer.body).toMatchObject({ status: 429, title: 'Too Many Requests' });
  expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(answer.retryAfter)).toBeLessThanOrEqual(60);
}

let a: ServiceProcess;
let b: ServiceProcess;
/** Believes X-Forwarded-For from loopback, as behind the launcher's edge proxy. */
let proxied: ServiceProcess;

beforeAll(async () => {
  [a, b, proxied] = await Promise.all([
    startGateway('rate-a'),
    startGateway('rate-b'),
    startGateway('rate-proxied', { TRUST_PROXY: 'loopback' }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all(started.map((gateway) => gateway.stop('SIGKILL')));
  const redis = new Redis(ns.redisUrl);
  try {
    for await (const keys of redis.scanStream({ match: `${ns.id}*`, count: 1_000 }))
      if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]));
  } finally {
    redis.disconnect();
  }
});

describe('the rate limit of the REST endpoints', () => {
  it('answers a user beyond RATE_LIMIT_POINTS 429 with Retry-After, on every instance and with any token, and leaves another user alone', async () => {
    const ash = freshUser();
    const misty = freshUser();
    const auth = await bearer(ash);
    const within = [
      await call(a, 'GET', '/api/positions', auth),
      await call(a, 'POST', '/api/stream-tokens', auth),
      await call(a, 'GET', '/api/positions', auth),
      await call(a, 'POST', '/api/stream-tokens', auth),
      await call(a, 'POST', '/api/session', auth),
    ];
    expect(within.map((answer) => answer.status)).toEqual([200, 201, 200, 201, 204]);

    expectRateLimited(await call(a, 'GET', '/api/positions', auth));
    expectRateLimited(await call(a, 'POST', '/api/stream-tokens', auth));
    expectRateLimited(await call(a, 'GET', '/api/presence', auth));
    // Counted in Redis per user: another instance and another token of the same user too.
    expectRateLimited(await call(b, 'GET', '/api/positions', await bearer(ash)));
    expectRateLimited(await call(b, 'POST', '/api/stream-tokens', await bearer(ash)));

    const other = await bearer(misty);
    expect((await call(a, 'GET', '/api/positions', other)).status).toBe(200);
    expect((await call(b, 'POST', '/api/stream-tokens', other)).status).toBe(201);
  });

  it('throttles a flood of 300 concurrent requests from one user to RATE_LIMIT_POINTS', async () => {
    const auth = await bearer(freshUser());
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        call(
          i % 2 ? a : b,
          i % 3 ? 'GET' : 'POST',
          i % 3 ? '/api/positions' : '/api/stream-tokens',
          auth,
        ),
      ),
    );
    const served = answers.filter((answer) => answer.status < 300).length;
    expect(served).toBe(POINTS);
    for (const answer of answers.filter((answer) => answer.status >= 300))
      expectRateLimited(answer);
  });

  it('limits callers without a valid token by client address, 429 before 401', async () => {
    const bad = { Authorization: 'Bearer not-a-token' };
    // Behind a trusted proxy the client is the address it forwards: two clients, two counters.
    const first = { ...bad, 'X-Forwarded-For': '203.0.113.7' };
    const refusals = [];
    for (let i = 0; i < POINTS; i++)
      refusals.push((await call(proxied, 'GET', '/api/positions', first)).status);
    expect(refusals).toEqual(Array(POINTS).fill(401));
    expectRateLimited(await call(proxied, 'POST', '/api/stream-tokens', first));
    expectRateLimited(
      await call(proxied, 'GET', '/api/positions', { 'X-Forwarded-For': '203.0.113.7' }),
    );
    expectRateLimited(
      await call(proxied, 'DELETE', '/api/session', { 'X-Forwarded-For': '203.0.113.7' }),
    );
    expect(
      (await call(proxied, 'GET', '/api/positions', { ...bad, 'X-Forwarded-For': '203.0.113.8' }))
        .status,
    ).toBe(401);
    // A user with a valid token is counted by user id, not by that address.
    const auth = { ...(await bearer(freshUser())), 'X-Forwarded-For': '203.0.113.7' };
    expect((await call(proxied, 'GET', '/api/positions', auth)).status).toBe(200);
  });

  it('marks the session cookie Secure and __Host- when a trusted proxy says the client used TLS, and only then', async () => {
    const auth = await bearer(freshUser());
    const tls = { ...auth, 'X-Forwarded-Proto': 'https' };
    const behindProxy = await call(proxied, 'POST', '/api/session', tls);
    expect(behindProxy.status).toBe(204);
    // `__Host-`: no other host (a sibling subdomain) can set or shadow it in the browser.
    expect(behindProxy.setCookies).toEqual([
      expect.stringMatching(
        /^__Host-causeway_token=[^;]+; HttpOnly; SameSite=Strict; Path=\/; Secure; Max-Age=\d+$/,
      ),
    ]);
    // It is what the gateway reads.
    const cookie = behindProxy.setCookies[0]!.split(';')[0]!;
    expect((await call(proxied, 'GET', '/api/positions', { Cookie: cookie })).status).toBe(200);
    // DELETE is counted by address: a forwarded one of its own, so the loopback bucket stays full.
    // It clears both names (a `causeway_token` set before the prefix, or over plain http).
    const logout = { ...tls, 'X-Forwarded-For': '192.0.2.44' };
    expect((await call(proxied, 'DELETE', '/api/session', logout)).setCookies).toEqual([
      '__Host-causeway_token=; HttpOnly; SameSite=Strict; Path=/; Secure; Max-Age=0',
      'causeway_token=; HttpOnly; SameSite=Strict; Path=/; Secure; Max-Age=0',
    ]);
    // The client's own header, and a proxy that saw plain http, count for nothing.
    const direct = await call(b, 'POST', '/api/session', tls);
    expect(direct.status).toBe(204);
    expect(direct.setCookies).toEqual([expect.stringMatching(/^causeway_token=/)]);
    expect(direct.setCookie).not.toContain('Secure');
    const plain = await call(proxied, 'POST', '/api/session', {
      ...auth,
      'X-Forwarded-Proto': 'https, http',
    });
    expect(plain.setCookies).toEqual([expect.stringMatching(/^causeway_token=/)]);
    expect(plain.setCookie).not.toContain('Secure');
  });

  it("ignores a direct client's own X-Forwarded-For without TRUST_PROXY", async () => {
    const statuses = [];
    for (let i = 0; i <= POINTS; i++)
      statuses.push(
        (await call(b, 'DELETE', '/api/session', { 'X-Forwarded-For': `198.51.100.${i}` })).status,
      );
    expect(statuses).toEqual([...Array(POINTS).fill(204), 429]);
  });

  it('never limits health, metrics and the admin token', async () => {
    for (let i = 0; i < 3 * POINTS; i++) {
      expect((await call(b, 'GET', '/health/live')).status).toBe(200);
      expect((await call(b, 'GET', '/health/ready')).status).toBe(200);
      expect((await call(b, 'GET', '/metrics')).status).toBe(200);
      expect(
        (await call(b, 'GET', '/api/presence', { Authorization: `Bearer ${adminToken}` })).status,
      ).toBe(200);
    }
  });
});

describe('the rate limit of GET /events', () => {
  it('throttles opens with a bad token by client address', async () => {
    const client = { 'X-Forwarded-For': '203.0.113.20' };
    const refusals = [];
    for (let i = 0; i < POINTS; i++)
      refusals.push((await call(proxied, 'GET', '/events?token=bad', client)).status);
    expect(refusals).toEqual(Array(POINTS).fill(401));
    expectRateLimited(await call(proxied, 'GET', '/events?token=bad', client));
    expectRateLimited(await call(proxied, 'GET', '/events', client));
    // Another client still gets its 401, and a user with a good token its stream.
    expect(
      (await call(proxied, 'GET', '/events?token=bad', { 'X-Forwarded-For': '203.0.113.21' }))
        .status,
    ).toBe(401);
    const stream = await call(proxied, 'GET', '/events', {
      ...(await bearer(freshUser())),
      ...client,
    });
    expect(stream.status).toBe(200);
  });

  it('counts a user’s opens with their other requests, so that a reconnect loop is bounded too', async () => {
    const auth = await bearer(freshUser());
    const opens = [];
    for (let i = 0; i < POINTS; i++)
      opens.push((await call(i % 2 ? a : b, 'GET', '/events', auth)).status);
    expect(opens).toEqual(Array(POINTS).fill(200));
    expectRateLimited(await call(a, 'GET', '/events', auth));
    expectRateLimited(await call(b, 'GET', '/api/positions', auth));
  });

  // Charged first, a page retrying a mistyped task's progress URL used up the user's rate: its
  // moves and streams got 429 for the rest of the window (session 48).
  it('charges nothing for a progress stream of an id no task can have: 400 each time', async () => {
    const auth = await bearer(freshUser());
    const malformed = [];
    for (let i = 0; i < POINTS + 2; i++)
      malformed.push(
        (await call(i % 2 ? a : b, 'GET', `/api/v2/progress/subscribe/${'x'.repeat(200)}`, auth))
          .status,
      );
    expect(malformed).toEqual(Array(POINTS + 2).fill(400));
    const within = [];
    for (let i = 0; i < POINTS; i++)
      within.push((await call(i % 2 ? a : b, 'GET', '/api/positions', auth)).status);
    expect(within).toEqual(Array(POINTS).fill(200));
    expectRateLimited(await call(a, 'GET', '/api/positions', auth));
  });

  it('lets a client resume after a drop', async () => {
    const auth = await bearer(freshUser());
    const { token } = (await call(a, 'POST', '/api/stream-tokens', auth)).body as { token: string };
    expect((await call(a, 'GET', `/events?token=${token}`)).status).toBe(200);
    // Dropped; it comes back to another instance with its Last-Event-ID.
    const lastEventId = `${Date.now() - 1_000}-0`;
    const resumed = await call(b, 'GET', `/events?token=${token}`, {
      'Last-Event-ID': lastEventId,
    });
    expect(resumed.status).toBe(200);
  });
});
