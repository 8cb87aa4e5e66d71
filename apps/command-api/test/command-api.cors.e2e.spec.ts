import { randomUUID } from 'node:crypto';
import path from 'node:path';
import Redis from 'ioredis';
import { TokenService } from '@causeway/platform';
import {
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
  corsHeadersOf,
  corsMarked,
  corsPreflight,
} from '@causeway/testkit';

// CORS_ORIGINS on the BUILT command-api against real Redis: a page on an allowed origin can
// call it from a browser (preflights answered, every answer marked, the command endpoints
// served in front of Express included); anyone else sees the API exactly as without CORS.
const appDir = path.join(__dirname, '..');
const ns = testNamespace('capicors');
const secret = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret });
const allowed = 'http://127.0.0.1:5500';
const other = 'http://127.0.0.1:5501';
const baseEnv = {
  REDIS_URL: serverAddress('redis'),
  KAFKA_BROKERS: serverAddress('kafka'),
  ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
  JWT_SECRET: secret,
  TOPIC_PREFIX: ns.id,
};
const move = { directionX: 1, directionY: -1, action: 'start' };
const unique = (base: string) => `${base}-${randomUUID().slice(0, 8)}`;

const started: ServiceProcess[] = [];
async function start(env: Record<string, string>): Promise<ServiceProcess> {
  const api = await startServiceProcess({ appDir, env: { ...baseEnv, ...env } });
  started.push(api);
  await waitForStatus(`${api.url}/health/ready`, 200);
  return api;
}

afterAll(async () => {
  await Promise.all(started.map((api) => api.stop('SIGKILL')));
  const redis = new Redis(ns.redisUrl);
  const keys = await redis.keys(`${ns.id}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

function preflight(url: string, origin: string, method = 'POST') {
  return fetch(url, {
    method: 'OPTIONS',
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': method,
      'Access-Control-Request-Headers': 'authorization,content-type,idempotency-key',
    },
  });
}

async function post(url: string, origin: string | undefined, body: unknown, token?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...(origin && { Origin: origin }),
      ...(token && { Authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response;
}

const corsHeaders = corsHeadersOf;

const marked = corsMarked(allowed);

describe('command-api with CORS_ORIGINS', () => {
  let api: ServiceProcess;
  beforeAll(async () => {
    api = await start({
      CORS_ORIGINS: `https://game.example.com, ${allowed}`,
      RATE_LIMIT_POINTS: '10000',
      DEV_TOKENS: 'true',
    });
  });

  it.each(['/rpc', '/api/trainers/gary/move', '/trainer.Move', '/api/dev/tokens'])(
    'answers a preflight to %s from an allowed origin: 204, credentials, methods and headers',
    async (route) => {
      const response = await preflight(`${api.url}${route}`, allowed);
      expect(response.status).toBe(204);
      expect(corsHeaders(response)).toEqual({
        ...corsPreflight(allowed),
        'access-control-expose-headers': 'Retry-After,Idempotent-Replayed,WWW-Authenticate',
      });
      expect(response.headers.get('vary')).toBe('Origin');
    },
  );

  it('leaves a preflight from another origin as without CORS: 405, no CORS header', async () => {
    for (const route of ['/rpc', '/api/trainers/gary/move']) {
      const response = await preflight(`${api.url}${route}`, other);
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
      expect(corsHeaders(response)).toEqual({});
    }
  });

  it('marks a JSON-RPC answer to an allowed origin (served in front of Express)', async () => {
    const user = unique('cors');
    const token = (await tokens.issue(user, { trainerIds: [] })).token;
    const response = await post(
      `${api.url}/rpc`,
      allowed,
      { jsonrpc: '2.0', id: 1, method: 'trainer.move', params: { trainerId: user, ...move } },
      token,
    );
    expect(response.status).toBe(200);
    expect(corsHeaders(response)).toEqual(marked);
    expect(response.headers.get('vary')).toBe('Origin');
  });

  it('marks a REST command answer and a replayed one, whose Idempotent-Replayed it exposes', async () => {
    const user = unique('cors');
    const token = (await tokens.issue(user, { trainerIds: [] })).token;
    const key = randomUUID();
    const send = () =>
      fetch(`${api.url}/api/trainers/${user}/move`, {
        method: 'POST',
        headers: {
          Origin: allowed,
          'Content-Type': 'application/json',
          Authorization: `Bearer ${token}`,
          'Idempotency-Key': key,
        },
        body: JSON.stringify(move),
      });
    const first = await send();
    expect(first.status).toBe(202);
    expect(corsHeaders(first)).toEqual(marked);
    const again = await send();
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(corsHeaders(again)).toEqual(marked);
  });

  it('marks refusals: 401 from the command endpoints, 404 and 405 problem documents from Express', async () => {
    const unauthorized = await post(`${api.url}/api/trainers/gary/move`, allowed, move);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('www-authenticate')).toBeTruthy();
    expect(corsHeaders(unauthorized)).toEqual(marked);
    const rpc = await post(`${api.url}/rpc`, allowed, { jsonrpc: '2.0', id: 1, method: 'x' });
    expect(rpc.status).toBe(401);
    expect(corsHeaders(rpc)).toEqual(marked);
    const missing = await fetch(`${api.url}/api/nothing-here`, { headers: { Origin: allowed } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    expect(corsHeaders(missing)).toEqual(marked);
    const wrongMethod = await fetch(`${api.url}/rpc`, { headers: { Origin: allowed } });
    expect(wrongMethod.status).toBe(405);
    expect(corsHeaders(wrongMethod)).toEqual(marked);
  });

  it('marks nothing for another origin or none', async () => {
    for (const origin of [other, 'https://game.example.com.evil.test', undefined]) {
      const response = await post(`${api.url}/api/trainers/gary/move`, origin, move);
      expect(response.status).toBe(401);
      expect(corsHeaders(response)).toEqual({});
      expect(response.headers.get('vary')).toBeNull();
    }
  });
});

describe('command-api with CORS_ORIGINS, rate limited', () => {
  it('marks a 429 and exposes its Retry-After', async () => {
    const api = await start({
      CORS_ORIGINS: allowed,
      RATE_LIMIT_POINTS: '1',
      RATE_LIMIT_WINDOW_S: '60',
    });
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 3 && !limited; i++) {
      const response = await post(`${api.url}/api/trainers/gary/move`, allowed, move);
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    expect(limited).toBeDefined();
    expect(limited!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(corsHeaders(limited!)).toEqual(marked);
  });
});

describe('command-api with CORS_ORIGINS and COMMANDS_THROUGH_EXPRESS', () => {
  it('answers the same preflights and marks the same answers', async () => {
    const api = await start({
      CORS_ORIGINS: allowed,
      COMMANDS_THROUGH_EXPRESS: 'true',
      RATE_LIMIT_POINTS: '10000',
    });
    expect((await preflight(`${api.url}/rpc`, allowed)).status).toBe(204);
    const unauthorized = await post(`${api.url}/api/trainers/gary/move`, allowed, move);
    expect(unauthorized.status).toBe(401);
    expect(corsHeaders(unauthorized)).toEqual(marked);
  });
});

describe('command-api without CORS_ORIGINS', () => {
  it('sends no CORS header, to any origin: preflights stay 405', async () => {
    const api = await start({ RATE_LIMIT_POINTS: '10000' });
    const response = await preflight(`${api.url}/rpc`, allowed);
    expect(response.status).toBe(405);
    expect(corsHeaders(response)).toEqual({});
    const unauthorized = await post(`${api.url}/rpc`, allowed, {
      jsonrpc: '2.0',
      id: 1,
      method: 'x',
    });
    expect(unauthorized.status).toBe(401);
    expect(corsHeaders(unauthorized)).toEqual({});
  });
});

describe('CORS_ORIGINS at start-up', () => {
  it.each([
    ['*', 'CORS_ORIGINS: wildcards are not accepted'],
    [`${allowed},*`, 'CORS_ORIGINS: wildcards are not accepted'],
    [
      'https://game.example.com/play',
      'CORS_ORIGINS: not an origin (scheme://host[:port], without path, e.g. https://app.example.com): https://game.example.com/play',
    ],
    [
      `${allowed},game.example.com`,
      'CORS_ORIGINS: not an origin (scheme://host[:port], without path, e.g. https://app.example.com): game.example.com',
    ],
  ])('refuses CORS_ORIGINS=%s, naming the setting and the entry', async (value, message) => {
    const refused = await startServiceProcess({
      appDir,
      env: { ...baseEnv, CORS_ORIGINS: value },
      waitFor: 'spawn',
    });
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toContain(message);
  });
});
