import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { type Notification } from '@causeway/contracts';
import { RedisNotificationLog, RedisTrainerPositions, TokenService } from '@causeway/platform';
import {
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import Redis from 'ioredis';
import { z } from 'zod';

/**
 * The built gateway's OpenAPI document against what the built gateway answers: real requests to
 * every route, each answer's status, content type, headers and body checked against /docs-json
 * (bodies and SSE frames validated with the documented JSON Schemas).
 */
const ns = testNamespace('sseopenapi');
const appDir = path.join(__dirname, '..');
const secret = `jwt-${ns.id}-0123456789-0123456789`;
const adminToken = `admin-${ns.id}-0123456789`;
const tokens = new TokenService({ secret });
const env = (instance: string, extra: Record<string, string> = {}) => ({
  REDIS_URL: ns.redisUrl,
  ADMIN_TOKEN: adminToken,
  JWT_SECRET: secret,
  TOPIC_PREFIX: ns.id,
  INSTANCE_ID: instance,
  SSE_RETRY_MS: '300',
  ...extra,
});

// Documents and bodies are read as loosely typed JSON: the assertions are the schema.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let gateway: ServiceProcess;
/** A second instance with tiny connection limits (and the one that is stopped at the end). */
let limited: ServiceProcess;
let docs: Json;
let redis: Redis;
let log: RedisNotificationLog;
const streams: Stream[] = [];

beforeAll(async () => {
  redis = new Redis(ns.redisUrl);
  log = new RedisNotificationLog({ client: redis, keyPrefix: `${ns.id}:` });
  [gateway, limited] = await Promise.all([
    // 5 requests per caller per minute; X-Forwarded-For (trusted from loopback) gives each
    // anonymous request an address of its own, so that they do not share one counter.
    startServiceProcess({
      appDir,
      env: env('gw-docs', {
        RATE_LIMIT_POINTS: '5',
        RATE_LIMIT_WINDOW_S: '60',
        TRUST_PROXY: 'loopback',
      }),
    }),
    startServiceProcess({
      appDir,
      env: env('gw-limits', {
        MAX_CONNECTIONS: '2',
        MAX_CONNECTIONS_PER_USER: '1',
        RETRY_AFTER_SECONDS: '7',
        HEARTBEAT_MS: '200',
      }),
    }),
  ]);
  await Promise.all([gateway, limited].map((g) => waitForStatus(`${g.url}/health/ready`, 200)));
  docs = await (await fetch(`${gateway.url}/docs-json`)).json();
});

afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});

afterAll(async () => {
  await Promise.all([gateway, limited].map((g) => g?.stop('SIGKILL')));
  await log?.close();
  try {
    for await (const keys of redis.scanStream({ match: `${ns.id}*`, count: 1_000 }))
      if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]));
  } finally {
    redis?.disconnect();
  }
});

let sequence = 0;
const user = (name: string) => `${name}-${sequence++}`;
/** Headers of an anonymous request from an address of its own (see TRUST_PROXY above). */
function anonymous() {
  const n = sequence++;
  return { 'X-Forwarded-For': `10.9.${(n >> 8) & 255}.${n & 255}` };
}
async function bearer(userId: string) {
  return { Authorization: `Bearer ${(await tokens.issue(userId)).token}` };
}

/** A JSON Schema of the document (a `$ref` into its components, say) as a zod validator. */
function validator(schema: Json): z.ZodType {
  const local = (value: Json) =>
    JSON.parse(JSON.stringify(value).split('#/components/schemas/').join('#/$defs/')) as Json;
  return z.fromJSONSchema({ ...local(schema), $defs: local(docs.components.schemas) });
}
function expectValid(schema: Json, value: unknown, what: string) {
  const result = validator(schema).safeParse(value);
  expect({ what, issues: result.error?.issues ?? [] }).toEqual({ what, issues: [] });
}

/** Headers whose presence a client relies on: when an answer carries one, it is documented. */
const NOTABLE = ['retry-after', 'www-authenticate', 'set-cookie'];

/**
 * Expects `response` (already read into `body`, if any) to be documented for `route` and
 * `method`: its status, its media type, the headers documented for it and the notable headers
 * it carries, and (JSON) its body against the documented schema.
 */
function expectDocumented(route: string, method: string, response: Response, body?: string) {
  const operation = docs.paths[route]?.[method];
  expect({ route, method, documented: operation !== undefined }).toEqual({
    route,
    method,
    documented: true,
  });
  const status = String(response.status);
  const documented = operation.responses[status];
  expect({ route, method, status, documented: documented !== undefined }).toEqual({
    route,
    method,
    status,
    documented: true,
  });
  const headers = Object.keys(documented.headers ?? {}).map((name) => name.toLowerCase());
  for (const name of headers)
    expect({ route, status, header: name, sent: response.headers.has(name) }).toEqual({
      route,
      status,
      header: name,
      sent: true,
    });
  for (const name of NOTABLE)
    if (response.headers.has(name))
      expect({ route, status, header: name, documented: headers.includes(name) }).toEqual({
        route,
        status,
        header: name,
        documented: true,
      });
  const type = response.headers.get('content-type')?.split(';')[0]?.trim();
  const content = documented.content as Record<string, { schema: Json }> | undefined;
  if (!content) {
    expect({ route, status, body: body ?? '' }).toEqual({ route, status, body: '' });
    return;
  }
  expect(Object.keys(content)).toContain(type);
  if (type !== 'text/event-stream' && body !== undefined)
    expectValid(content[type!]!.schema, JSON.parse(body), `${method} ${route} ${status}`);
}

async function call(
  route: string,
  method: 'get' | 'post' | 'delete',
  options: { target?: string; headers?: Record<string, string>; body?: string } = {},
) {
  const response = await fetch(`${gateway.url}${options.target ?? route}`, {
    method: method.toUpperCase(),
    headers: options.headers,
    body: options.body,
  });
  const body = await response.text();
  expectDocumented(route, method, response, body);
  return { status: response.status, headers: response.headers, json: () => JSON.parse(body) };
}

interface RawEvent {
  event?: string;
  id?: string;
  retry?: number;
  data?: string;
}

interface Stream {
  response: Response;
  /** The next event that has a `data:` line (heartbeats and lone `retry:` hints skipped). */
  next(): Promise<RawEvent & { notification: Json }>;
  close(): void;
}

/** GET /events with fetch, parsing the SSE wire format by hand (every line is checked). */
async function openStream(
  options: { url?: string; query?: string; headers?: Record<string, string> } = {},
): Promise<Stream | { status: number; headers: Headers; json: () => Json }> {
  const controller = new AbortController();
  const response = await fetch(`${options.url ?? gateway.url}/events${options.query ?? ''}`, {
    headers: options.headers,
    signal: controller.signal,
  });
  if (!response.ok) {
    const body = await response.text();
    expectDocumented('/events', 'get', response, body);
    return { status: response.status, headers: response.headers, json: () => JSON.parse(body) };
  }
  expectDocumented('/events', 'get', response);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const stream: Stream = {
    response,
    close: () => controller.abort(),
    async next() {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end < 0) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`the stream ended; unparsed: ${JSON.stringify(buffer)}`);
          buffer += decoder.decode(value, { stream: true });
          continue;
        }
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: RawEvent = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const [field, value] = [line.slice(0, colon), line.slice(colon + 1).trimStart()];
          if (field === 'id') event.id = value;
          else if (field === 'event') event.event = value;
          else if (field === 'retry') event.retry = Number(value);
          else if (field === 'data') event.data = value;
          else throw new Error(`unexpected line ${JSON.stringify(line)}`);
        }
        if (event.data === undefined) continue;
        expectValid({ $ref: '#/components/schemas/SseFrame' }, event, 'the SSE event');
        const notification = JSON.parse(event.data) as Json;
        expectValid(
          { $ref: '#/components/schemas/SseNotification' },
          notification,
          `the ${String(notification.method)} notification`,
        );
        return { ...event, notification };
      }
    },
  };
  streams.push(stream);
  return stream;
}

function opened(stream: Awaited<ReturnType<typeof openStream>>): Stream {
  if (!('next' in stream)) throw new Error(`the stream was refused: ${stream.status}`);
  return stream;
}

describe('sse-gateway OpenAPI document', () => {
  it('serves the OpenAPI document at /docs, /docs-json and /docs-yaml', async () => {
    const ui = await fetch(`${gateway.url}/docs`);
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await ui.text()).toContain('swagger');
    const yaml = await fetch(`${gateway.url}/docs-yaml`);
    expect(yaml.status).toBe(200);
    expect(await yaml.text()).toContain('openapi: 3.1.0');

    expect(docs.openapi).toBe('3.1.0');
    // Every route GatewayModule serves (the unit test holds it to the controllers), and only those.
    expect(
      Object.entries(docs.paths as Json)
        .flatMap(([route, operations]) =>
          Object.keys(operations as Json).map((method) => `${method.toUpperCase()} ${route}`),
        )
        .sort(),
    ).toEqual(
      [
        'GET /events',
        'HEAD /events', // answered as GET's headers, no stream
        'POST /api/stream-tokens',
        'POST /api/session',
        'DELETE /api/session',
        'GET /api/presence',
        'POST /api/presence/{userId}/disconnect',
        'GET /api/positions',
        'GET /api/v2/progress/subscribe',
        'GET /api/v2/progress/subscribe/{taskId}',
        'HEAD /api/v2/progress/subscribe',
        'HEAD /api/v2/progress/subscribe/{taskId}',
      ].sort(),
    );
    expect(docs.components.securitySchemes).toMatchObject({
      bearer: { type: 'http', scheme: 'bearer' },
      streamToken: { type: 'apiKey', in: 'query', name: 'token' },
      sessionCookie: { type: 'apiKey', in: 'cookie', name: 'causeway_token' },
    });
    expect(docs.paths['/events'].get.security).toEqual([
      { bearer: [] },
      { streamToken: [] },
      { sessionCookie: [] },
    ]);
    expect(Object.keys(docs.paths['/events'].get.responses['200'].content)).toEqual([
      'text/event-stream',
    ]);
    expect(
      Object.keys(docs.components.schemas.SseNotification.discriminator.mapping).sort(),
    ).toEqual([
      'command.result',
      'disconnected',
      'expired',
      'heartbeat',
      'position.update',
      'recovery',
      'session',
      'shutdown',
    ]);
  });

  it('GET /events: 401 without a credential or with the wrong one, 200 with each of the three, 400 for a malformed query or Last-Event-ID', async () => {
    const none = await openStream({ headers: anonymous() });
    expect(none).toMatchObject({ status: 401 });
    expect((none as { headers: Headers }).headers.get('www-authenticate')).toBe(
      'Bearer realm="causeway"',
    );
    const access = (await tokens.issue(user('ash'))).token;
    // An access token is not a stream token.
    const wrongKind = await openStream({ query: `?token=${access}`, headers: anonymous() });
    expect(wrongKind).toMatchObject({ status: 401 });
    expect((wrongKind as { json(): Json }).json().detail).toContain('not "stream"');

    // Bearer: the session frame comes first, with a retry hint and an id.
    const ash = user('ash');
    const byBearer = opened(await openStream({ headers: await bearer(ash) }));
    expect(byBearer.response.headers.get('cache-control')).toBe('no-cache, no-transform');
    const session = await byBearer.next();
    expect(session.retry).toBe(300);
    expect(session.id).toMatch(/^\d+-\d+$/);
    expect(session.notification).toMatchObject({
      jsonrpc: '2.0',
      method: 'session',
      params: { serverId: 'gw-docs', resumed: 'new', replayed: 0 },
    });

    // A stream token, as POST /api/stream-tokens hands it out.
    const misty = user('misty');
    const issued = await call('/api/stream-tokens', 'post', { headers: await bearer(misty) });
    expect(issued.status).toBe(201);
    const byToken = opened(await openStream({ query: `?token=${issued.json().token}` }));
    expect((await byToken.next()).notification.method).toBe('session');

    // The session cookie, as POST /api/session sets it.
    const cookie = await sessionCookie(user('brock'));
    const byCookie = opened(await openStream({ headers: { Cookie: cookie } }));
    expect((await byCookie.next()).notification.method).toBe('session');

    const repeated = await openStream({ query: '?lastEventId=1-0&lastEventId=2-0' });
    expect(repeated).toMatchObject({ status: 400 });
    const badId = await openStream({
      query: '?lastEventId=nope',
      headers: await bearer(user('oak')),
    });
    expect(badId).toMatchObject({ status: 400 });
    expect((badId as { json(): Json }).json().errors).toEqual([
      { field: 'Last-Event-ID', message: 'must be an id received in an `id:` line' },
    ]);
  });

  it('GET /events: position.update, command.result and recovery frames match their documented schemas', async () => {
    const gary = user('gary');
    const stream = opened(await openStream({ headers: await bearer(gary) }));
    const session = await stream.next();
    const commandId = randomUUID();
    const notify = (n: Omit<Notification, 'notificationId' | 'serverId'>) =>
      log.append({ ...n, notificationId: randomUUID(), serverId: 'test' } as Notification);
    await notify({
      targetType: 'broadcast',
      targetIds: [],
      method: 'position.update',
      params: { trainerId: gary, x: 1.5, y: -2, isMoving: true, dirX: 1, dirY: 0 },
    });
    await notify({
      targetType: 'user',
      targetIds: [gary],
      method: 'command.result',
      params: { commandId, status: 'processed', version: 3 },
    });
    await notify({
      targetType: 'user',
      targetIds: [gary],
      method: 'command.result',
      params: { commandId: randomUUID(), status: 'rejected', reason: 'not found' },
    });
    const frames = [await stream.next(), await stream.next(), await stream.next()];
    expect(frames.map((f) => f.notification.method)).toEqual([
      'position.update',
      'command.result',
      'command.result',
    ]);
    expect(frames[1]!.notification.params).toEqual({ commandId, status: 'processed', version: 3 });
    for (const frame of frames) expect(frame.id! > session.id!).toBe(true);

    // Resuming from the session's id replays what was missed.
    const resumed = opened(
      await openStream({ headers: { ...(await bearer(gary)), 'Last-Event-ID': session.id! } }),
    );
    expect((await resumed.next()).notification.params).toMatchObject({
      resumed: 'replayed',
      replayed: 3,
    });
    // An id ahead of the log: a recovery frame with the current positions (a row of the read model).
    await new RedisTrainerPositions({ client: redis, keyPrefix: `${ns.id}:` }).apply({
      trainerId: gary,
      x: 4,
      y: 5,
      isMoving: false,
      dirX: 0,
      dirY: 0,
      speed: 100,
      startedAt: 0,
      version: 1,
      updatedAt: Date.now(),
    });
    const recovering = opened(
      await openStream({
        query: `?lastEventId=${Date.now() + 3_600_000}-0`,
        headers: await bearer(gary),
      }),
    );
    expect((await recovering.next()).notification.params.resumed).toBe('recovery');
    const recovery = await recovering.next();
    expect(recovery.notification.params).toMatchObject({
      reason: 'unknown-position',
      positions: expect.arrayContaining([expect.objectContaining({ trainerId: gary, x: 4 })]),
    });
  });

  it('POST /api/stream-tokens, POST and DELETE /api/session answer as documented', async () => {
    expect((await call('/api/stream-tokens', 'post', { headers: anonymous() })).status).toBe(401);
    const streamToken = (await tokens.issue(user('ash'), { use: 'stream' })).token;
    expect(
      (
        await call('/api/stream-tokens', 'post', {
          headers: { ...anonymous(), Authorization: `Bearer ${streamToken}` },
        })
      ).status,
    ).toBe(401);
    // The three routes read no body, and leave one sent unread (session 49, UNREAD_BODIES): not
    // JSON, or in a charset the body parser cannot read, it changes nothing of the answer.
    const malformed = await call('/api/stream-tokens', 'post', {
      headers: { ...(await bearer(user('ash'))), 'Content-Type': 'application/json' },
      body: '{"oops":',
    });
    expect(malformed.status).toBe(201);
    for (const [route, method, status] of [
      ['/api/stream-tokens', 'post', 201],
      ['/api/session', 'post', 204],
      ['/api/session', 'delete', 204],
    ] as const) {
      const unreadable = await call(route, method, {
        headers: {
          ...(await bearer(user('ash'))),
          'Content-Type': 'application/json; charset=koi8-r',
        },
        body: '{}',
      });
      expect({ route, method, status: unreadable.status }).toEqual({ route, method, status });
    }

    expect((await call('/api/session', 'post', { headers: anonymous() })).status).toBe(401);
    const opened = await call('/api/session', 'post', { headers: await bearer(user('ash')) });
    expect(opened.status).toBe(204);
    // Max-Age: the token's remaining lifetime (an hour for these tokens).
    const cookie = opened.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(
      /^causeway_token=[^;]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/,
    );
    expect(Number(/Max-Age=(\d+)/.exec(cookie)![1])).toBeGreaterThan(60);
    // Behind a trusted proxy that received TLS, the cookie is Secure.
    const secure = await call('/api/session', 'post', {
      headers: { ...(await bearer(user('ash'))), 'X-Forwarded-Proto': 'https' },
    });
    expect(secure.headers.get('set-cookie')).toMatch(/; Secure; Max-Age=\d+$/);

    const closed = await call('/api/session', 'delete', { headers: anonymous() });
    expect(closed.status).toBe(204);
    expect(closed.headers.get('set-cookie')).toBe(
      'causeway_token=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0',
    );
  });

  it('GET /api/presence and GET /api/positions answer as documented (bearer, cookie, admin token)', async () => {
    const may = user('may');
    const stream = opened(await openStream({ headers: await bearer(may) }));
    await stream.next();
    for (const route of ['/api/presence', '/api/positions']) {
      expect((await call(route, 'get', { headers: anonymous() })).status).toBe(401);
      // A stream token is for GET /events only.
      const streamToken = (await tokens.issue(may, { use: 'stream' })).token;
      expect(
        (
          await call(route, 'get', {
            target: `${route}?token=${streamToken}`,
            headers: anonymous(),
          })
        ).status,
      ).toBe(401);
      expect((await call(route, 'get', { headers: await bearer(user('may')) })).status).toBe(200);
      expect(
        (await call(route, 'get', { headers: { Cookie: await sessionCookie(user('may')) } }))
          .status,
      ).toBe(200);
    }
    const mine = await call('/api/presence', 'get', { headers: await bearer(may) });
    expect(mine.json().instances).toEqual([
      { serverId: 'gw-docs', users: [{ userId: may, connections: 1, since: expect.any(Number) }] },
    ]);
    const all = await call('/api/presence', 'get', {
      headers: { Authorization: `Bearer ${adminToken}` },
    });
    expect(all.status).toBe(200);
  });

  it('POST /api/presence/{userId}/disconnect answers as documented; disconnected and expired frames match their schemas', async () => {
    const route = '/api/presence/{userId}/disconnect';
    const rocket = user('rocket');
    const target = `/api/presence/${rocket}/disconnect`;
    const stream = opened(await openStream({ headers: await bearer(rocket) }));
    const session = await stream.next();
    const admin = { Authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    expect((await call(route, 'post', { target, headers: anonymous() })).status).toBe(401);
    expect(
      (
        await call(route, 'post', {
          target,
          headers: { ...anonymous(), ...(await bearer(rocket)) },
        })
      ).status,
    ).toBe(401);
    const bad = await call(route, 'post', {
      target,
      headers: admin,
      body: JSON.stringify({ reason: 42 }),
    });
    expect(bad.status).toBe(400);
    expect(bad.json().errors).toEqual([{ field: 'reason', message: expect.any(String) }]);
    expect((await call(route, 'post', { target, headers: admin, body: '{"reason":' })).status).toBe(
      400,
    );
    const ordered = await call(route, 'post', {
      target,
      headers: admin,
      body: JSON.stringify({ reason: 'maintenance' }),
    });
    expect(ordered.status).toBe(202);
    expect(ordered.json()).toEqual({ userId: rocket, instances: 2 });
    const disconnected = await stream.next();
    expect(disconnected.notification).toEqual({
      jsonrpc: '2.0',
      method: 'disconnected',
      params: { reason: 'maintenance' },
    });
    expect(disconnected.id).toBe(session.id);

    // A stream whose access token has a second or two left ends with `expired`.
    const { token, expiresAt } = await tokens.issue(user('brief'), { ttlSeconds: 2 });
    const brief = opened(await openStream({ headers: { Authorization: `Bearer ${token}` } }));
    await brief.next();
    const expired = await brief.next();
    expect(expired.notification).toEqual({
      jsonrpc: '2.0',
      method: 'expired',
      params: { expiredAt: expiresAt },
    });
  });

  it('answers 429 with Retry-After beyond the rate on every rate-limited route, as documented', async () => {
    const ash = user('ash');
    const auth = await bearer(ash);
    for (let i = 0; i < 5; i++)
      expect((await call('/api/positions', 'get', { headers: auth })).status).toBe(200);
    expect((await call('/api/positions', 'get', { headers: auth })).status).toBe(429);
    for (const [route, method] of [
      ['/api/presence', 'get'],
      ['/api/stream-tokens', 'post'],
      ['/api/session', 'post'],
    ] as const)
      expect({ route, status: (await call(route, method, { headers: auth })).status }).toEqual({
        route,
        status: 429,
      });
    const refused = await openStream({ headers: auth });
    expect(refused).toMatchObject({ status: 429 });
    expect((refused as { json(): Json }).json().type).toBe(
      'https://causeway.dev/problems/rate-limited',
    );
    // Without a (valid) credential the client address is counted: 429 comes before 401.
    const address = anonymous();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await call('/api/session', 'delete', { headers: address })).status);
    expect(statuses).toEqual([204, 204, 204, 204, 204, 429]);
    const elsewhere = anonymous();
    for (let i = 0; i < 5; i++)
      expect((await openStream({ headers: elsewhere })) as Json).toMatchObject({ status: 401 });
    expect((await openStream({ headers: elsewhere })) as Json).toMatchObject({ status: 429 });
  });

  it('GET /events: heartbeat events, 429 beyond MAX_CONNECTIONS_PER_USER, 503 beyond MAX_CONNECTIONS, and a shutdown frame, as documented', async () => {
    const url = limited.url;
    const first = opened(
      await openStream({ url, query: '?heartbeat=event', headers: await bearer('lim-a') }),
    );
    const session = await first.next();
    expect(session.notification.params.heartbeatMs).toBe(200);
    // Asked for: its heartbeats (HEARTBEAT_MS) are `heartbeat` events repeating the last id.
    const heartbeat = await first.next();
    expect(heartbeat).toMatchObject({
      event: 'heartbeat',
      id: session.id,
      notification: {
        jsonrpc: '2.0',
        method: 'heartbeat',
        params: { serverTime: expect.any(Number) },
      },
    });
    const perUser = await openStream({ url, headers: await bearer('lim-a') });
    expect(perUser).toMatchObject({ status: 429 });
    expect((perUser as { headers: Headers }).headers.get('retry-after')).toBe('7');
    const second = opened(await openStream({ url, headers: await bearer('lim-b') }));
    await second.next();
    const full = await openStream({ url, headers: await bearer('lim-c') });
    expect(full).toMatchObject({ status: 503 });
    expect((full as { headers: Headers }).headers.get('retry-after')).toBe('7');

    // A graceful stop ends each stream with a shutdown notification repeating the last id.
    const stopping = limited.stop('SIGTERM');
    let shutdown = await first.next();
    while (shutdown.event === 'heartbeat') shutdown = await first.next();
    expect(shutdown.notification).toEqual({
      jsonrpc: '2.0',
      method: 'shutdown',
      params: { serverId: 'gw-limits' },
    });
    expect(shutdown.id).toBe(session.id);
    expect(await stopping).toBe(0);
  });
});

/** The Cookie header a browser sends after POST /api/session for `userId`. */
async function sessionCookie(userId: string): Promise<string> {
  const answer = await call('/api/session', 'post', { headers: await bearer(userId) });
  expect(answer.status).toBe(204);
  return answer.headers.get('set-cookie')!.split(';')[0]!;
}
