import path from 'node:path';
import { TokenService } from '@causeway/platform';
import {
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
  corsHeadersOf,
  corsMarked,
  corsPreflight,
} from '@causeway/testkit';
import Redis from 'ioredis';

// CORS_ORIGINS on the BUILT gateway over real Redis: a page on an allowed origin can open
// GET /events (served in front of Express) and use the session cookie; refusals carry the CORS
// headers too, so the page can read them; anyone else sees the gateway as without CORS.
const ns = testNamespace('ssecors');
const appDir = path.join(__dirname, '..');
const secret = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret });
const allowed = 'https://game.example.com';
const other = 'https://evil.example.com';
const env = (extra: Record<string, string> = {}) => ({
  REDIS_URL: ns.redisUrl,
  ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
  JWT_SECRET: secret,
  TOPIC_PREFIX: ns.id,
  RATE_LIMIT_POINTS: '10000',
  ...extra,
});

const started: ServiceProcess[] = [];
const opened: AbortController[] = [];
async function startGateway(extra: Record<string, string> = {}) {
  const gateway = await startServiceProcess({ appDir, env: env(extra) });
  started.push(gateway);
  await waitForStatus(`${gateway.url}/health/ready`, 200);
  return gateway;
}

afterAll(async () => {
  for (const stream of opened) stream.abort();
  await Promise.all(started.map((gateway) => gateway.stop('SIGKILL')));
  const redis = new Redis(ns.redisUrl);
  try {
    for await (const keys of redis.scanStream({ match: `${ns.id}:*`, count: 1_000 }))
      if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]));
  } finally {
    redis.disconnect();
  }
});

let users = 0;
const freshUser = () => `${ns.id}-user-${++users}`;
const bearer = async (userId: string) => `Bearer ${(await tokens.issue(userId)).token}`;

/** GET /events; a stream that opens is kept open (closed after the tests), its headers returned. */
async function events(gateway: ServiceProcess, headers: Record<string, string>) {
  const controller = new AbortController();
  const response = await fetch(`${gateway.url}/events`, { headers, signal: controller.signal });
  if (response.headers.get('content-type')?.startsWith('text/event-stream'))
    opened.push(controller);
  else await response.arrayBuffer();
  return response;
}

const corsHeaders = corsHeadersOf;
const marked = corsMarked(allowed);

describe('sse-gateway with CORS_ORIGINS', () => {
  let gateway: ServiceProcess;
  beforeAll(async () => {
    gateway = await startGateway({
      CORS_ORIGINS: `${allowed},http://127.0.0.1:5500`,
      MAX_CONNECTIONS_PER_USER: '1',
      MAX_CONNECTIONS: '4',
    });
  });

  it.each([
    ['/events', 'GET', 'last-event-id'],
    ['/api/session', 'POST', 'authorization'],
    ['/api/stream-tokens', 'POST', 'authorization'],
  ])('answers a preflight to %s from an allowed origin', async (route, method, headers) => {
    const response = await fetch(`${gateway.url}${route}`, {
      method: 'OPTIONS',
      headers: {
        Origin: allowed,
        'Access-Control-Request-Method': method,
        'Access-Control-Request-Headers': headers,
      },
    });
    expect(response.status).toBe(204);
    expect(corsHeaders(response)).toMatchObject(corsPreflight(allowed));
    expect(response.headers.get('vary')).toBe('Origin');
  });

  it('opens GET /events for an allowed origin with the CORS headers', async () => {
    const user = freshUser();
    const response = await events(gateway, { Origin: allowed, Authorization: await bearer(user) });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(corsHeaders(response)).toEqual(marked);
    expect(response.headers.get('vary')).toBe('Origin');
    // The stream itself is unchanged: its first frame is the session frame.
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('"session"'))
      text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain('"method":"session"');
  });

  it('takes the session cookie from an allowed origin and opens a stream with it', async () => {
    const session = await fetch(`${gateway.url}/api/session`, {
      method: 'POST',
      headers: { Origin: allowed, Authorization: await bearer(freshUser()) },
    });
    expect(session.status).toBe(204);
    expect(corsHeaders(session)).toEqual(marked);
    const cookie = session.headers.get('set-cookie')!.split(';')[0]!;
    const response = await events(gateway, { Origin: allowed, Cookie: cookie });
    expect(response.status).toBe(200);
    expect(corsHeaders(response)).toEqual(marked);
  });

  it('marks the refusals of GET /events: 401, 429 and 503 with a readable Retry-After', async () => {
    const unauthorized = await events(gateway, { Origin: allowed });
    expect(unauthorized.status).toBe(401);
    expect(corsHeaders(unauthorized)).toEqual(marked);

    const user = freshUser();
    expect(
      (await events(gateway, { Origin: allowed, Authorization: await bearer(user) })).status,
    ).toBe(200);
    const tooMany = await events(gateway, { Origin: allowed, Authorization: await bearer(user) });
    expect(tooMany.status).toBe(429);
    expect(tooMany.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(corsHeaders(tooMany)).toEqual(marked);

    // With one more, four streams are open (two from the tests before): the instance is full.
    const last = await events(gateway, {
      Origin: allowed,
      Authorization: await bearer(freshUser()),
    });
    expect(last.status).toBe(200);
    const full = await events(gateway, {
      Origin: allowed,
      Authorization: await bearer(freshUser()),
    });
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(corsHeaders(full)).toEqual(marked);
  });

  it('marks nothing for another origin or none, and leaves its preflights as they were', async () => {
    for (const origin of [other, undefined]) {
      const headers: Record<string, string> = origin ? { Origin: origin } : {};
      const refused = await events(gateway, headers);
      expect(refused.status).toBe(401);
      expect(corsHeaders(refused)).toEqual({});
      expect(refused.headers.get('vary')).toBeNull();
      const preflight = await fetch(`${gateway.url}/events`, {
        method: 'OPTIONS',
        headers: { ...headers, 'Access-Control-Request-Method': 'GET' },
      });
      expect(preflight.status).not.toBe(204);
      expect(preflight.status).toBeGreaterThanOrEqual(400);
      expect(corsHeaders(preflight)).toEqual({});
    }
  });
});

describe('sse-gateway without CORS_ORIGINS', () => {
  it('sends no CORS header on GET /events, to any origin', async () => {
    const gateway = await startGateway();
    const response = await events(gateway, {
      Origin: allowed,
      Authorization: await bearer(freshUser()),
    });
    expect(response.status).toBe(200);
    expect(corsHeaders(response)).toEqual({});
  });
});

describe('CORS_ORIGINS at start-up', () => {
  it.each([
    ['*', 'CORS_ORIGINS: wildcards are not accepted'],
    [
      'https://game.example.com/',
      'CORS_ORIGINS: not an origin (scheme://host[:port], without path, e.g. https://app.example.com): https://game.example.com/',
    ],
  ])('refuses CORS_ORIGINS=%s, naming it', async (value, message) => {
    const refused = await startServiceProcess({
      appDir,
      env: env({ CORS_ORIGINS: value }),
      waitFor: 'spawn',
    });
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toContain(message);
  });
});
