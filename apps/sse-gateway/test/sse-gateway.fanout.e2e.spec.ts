import path from 'node:path';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { type Notification } from '@causeway/contracts';
import {
  RedisGroupMembers,
  RedisNotificationLog,
  RedisTokenRevocations,
  RedisTrainerPositions,
  TokenService,
} from '@causeway/platform';
import {
  expectMethodsNotAllowed,
  testNamespace,
  startServiceProcess,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import Redis from 'ioredis';
import { SseClient, until } from './sse.client';

/**
 * Issue #5 item 5 end to end: two (or three) built gateway processes on real Redis, with the
 * read models in Redis (the default), so no MongoDB; the test appends notifications to the Redis
 * NotificationLog as the notifier would.
 */
const ns = testNamespace('ssefanout');
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
  SSE_RETRY_MS: '200',
  PRESENCE_TTL_MS: '1500',
  HISTORY_SIZE: '20',
  ...extra,
});

let a: ServiceProcess;
let b: ServiceProcess;
let redis: Redis;
let log: RedisNotificationLog;
const clients: SseClient[] = [];
const extra: ServiceProcess[] = [];

async function startGateway(instance: string, settings: Record<string, string> = {}) {
  const gateway = await startServiceProcess({ appDir, env: env(instance, settings) });
  await waitForStatus(`${gateway.url}/health/ready`, 200);
  return gateway;
}

async function bearer(userId: string, trainerIds: string[] = []) {
  return { Authorization: `Bearer ${(await tokens.issue(userId, { trainerIds })).token}` };
}

/** Opens a stream for `userId` through `target()` and waits for its session frame. */
async function connect(userId: string, target: () => string, headers: Record<string, string> = {}) {
  const client = new SseClient(target, { ...(await bearer(userId)), ...headers });
  clients.push(client);
  await client.waitFor((c) => c.sessions().length === 1, `${userId}'s session`);
  return client;
}

let sequence = 0;
function note(
  target: Pick<Notification, 'targetType' | 'targetIds' | 'recipients'>,
  n: unknown,
): Notification {
  return {
    notificationId: `${ns.id}-${sequence++}`,
    method: 'test.note',
    params: { n },
    serverId: 'test',
    ...target,
  };
}
const toUser = (userId: string, n: unknown) => note({ targetType: 'user', targetIds: [userId] }, n);
const broadcast = (n: unknown) => note({ targetType: 'broadcast', targetIds: [] }, n);

beforeAll(async () => {
  redis = new Redis(ns.redisUrl);
  log = new RedisNotificationLog({ client: redis, keyPrefix: `${ns.id}:` });
  [a, b] = await Promise.all([startGateway('gw-a'), startGateway('gw-b')]);
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  await Promise.all([a, b, ...extra].map((gateway) => gateway?.stop('SIGKILL')));
  await log?.close();
  const keys = await redis.keys(`${ns.id}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('sse-gateway fan-out across instances', () => {
  it("delivers a user's notification to each of their connections on both gateways exactly once, nobody else's", async () => {
    const ashA = await connect('ash', () => a.url);
    const ashB = await connect('ash', () => b.url);
    const mistyA = await connect('misty', () => a.url);
    const mistyB = await connect('misty', () => b.url);
    await log.append(toUser('ash', 'ash-1'));
    await log.append(toUser('misty', 'misty-1'));
    await log.append(
      note({ targetType: 'group', targetIds: ['kanto'], recipients: ['ash', 'brock'] }, 'kanto-1'),
    );
    await log.append(broadcast('all-1'));
    // A duplicate append (a redelivered event) produces nothing.
    const dup = toUser('ash', 'ash-2');
    await log.append(dup);
    await log.append(dup);
    await log.append(broadcast('fence'));
    for (const client of [ashA, ashB, mistyA, mistyB])
      await client.waitFor((c) => c.ns().includes('fence'), 'the fence');
    for (const ash of [ashA, ashB])
      expect(ash.ns()).toEqual(['ash-1', 'kanto-1', 'all-1', 'ash-2', 'fence']);
    for (const misty of [mistyA, mistyB]) expect(misty.ns()).toEqual(['misty-1', 'all-1', 'fence']);
    // Every frame has the same log id on both gateways.
    expect(ashA.notifications('test.note').map((f) => f.id)).toEqual(
      ashB.notifications('test.note').map((f) => f.id),
    );
    expect(ashA.sessions()[0]?.params).toMatchObject({ serverId: 'gw-a', resumed: 'new' });
    expect(ashB.sessions()[0]?.params).toMatchObject({ serverId: 'gw-b', resumed: 'new' });
    // S0-8: the connections were also announced on the event bus (Redis Streams topics).
    await until(
      async () => (await redis.keys(`${ns.id}*events.ConnectionEstablishedEvent*`)).length > 0,
      'a ConnectionEstablishedEvent topic',
    );
  });

  it('broadcasts to every connection of every user', async () => {
    const users = ['u1', 'u2', 'u3', 'u4'];
    const all = await Promise.all(
      users.flatMap((user) => [connect(user, () => a.url), connect(user, () => b.url)]),
    );
    await log.append(broadcast('hello'));
    for (const client of all)
      await client.waitFor((c) => c.ns().includes('hello'), 'the broadcast');
    for (const client of all) expect(client.ns()).toEqual(['hello']);
  });

  it('replays every missed notification in order after a dropped connection, on the other gateway', async () => {
    const first = await connect('ash', () => a.url);
    await log.append(toUser('ash', 1));
    await first.waitFor((c) => c.ns().includes(1), 'the first note');
    first.close();
    for (let n = 2; n <= 6; n++) {
      await log.append(toUser('ash', n));
      await log.append(toUser('misty', -n));
    }
    const resumed = await connect('ash', () => b.url, { 'Last-Event-ID': first.lastId! });
    expect(resumed.sessions()[0]?.params).toMatchObject({
      resumed: 'replayed',
      replayed: 5,
      serverId: 'gw-b',
    });
    expect(resumed.sessions()[0]?.id).toBe(first.lastId);
    await log.append(toUser('ash', 7));
    await resumed.waitFor((c) => c.ns().includes(7), 'the live note');
    expect(resumed.ns()).toEqual([2, 3, 4, 5, 6, 7]);
    // The ?lastEventId= form resumes the same way.
    const viaQuery = new SseClient(
      () => a.url,
      await bearer('ash'),
      `/events?lastEventId=${first.lastId}`,
    );
    clients.push(viaQuery);
    await viaQuery.waitFor((c) => c.ns().includes(7), 'the replay via query');
    expect(viaQuery.ns()).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('loses nothing when a gateway is killed and its clients reconnect to another with their last id', async () => {
    const doomed = await startGateway('gw-doomed');
    extra.push(doomed);
    let target = doomed.url;
    const ash = await connect('ash', () => target);
    const watcher = await connect('ash', () => a.url);
    await log.append(toUser('ash', 1));
    await ash.waitFor((c) => c.ns().includes(1), 'the first note');

    // Presence: ash on both instances.
    const online = async () => {
      const response = await fetch(`${a.url}/api/presence`, {
        headers: { Authorization: `Bearer ${adminToken}` },
      });
      const body = (await response.json()) as {
        instances: { serverId: string; users: { userId: string }[] }[];
      };
      return body.instances
        .filter((i) => i.users.some((u) => u.userId === 'ash'))
        .map((i) => i.serverId);
    };
    await until(async () => (await online()).includes('gw-doomed'), 'ash online on gw-doomed');
    expect(await online()).toEqual(expect.arrayContaining(['gw-a', 'gw-doomed']));

    doomed.child.kill('SIGKILL');
    await doomed.exited;
    // While the client is cut off, notifications keep coming.
    for (let n = 2; n <= 5; n++) await log.append(toUser('ash', n));
    // The "load balancer" now sends it to gw-b; EventSource reconnects by itself with Last-Event-ID.
    target = b.url;
    await ash.waitFor((c) => c.ns().includes(5), 'the missed notes after reconnecting');
    await log.append(toUser('ash', 6));
    await ash.waitFor((c) => c.ns().includes(6), 'the live note');
    expect(ash.ns()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(ash.sessions().map((s) => s.params.resumed)).toEqual(['new', 'replayed']);
    expect(ash.sessions()[1]?.params.serverId).toBe('gw-b');
    await watcher.waitFor((c) => c.ns().includes(6), 'the watcher');
    expect(watcher.ns()).toEqual([1, 2, 3, 4, 5, 6]);

    // The killed instance drops out of presence once its heartbeat expires.
    await until(
      async () => !(await online()).includes('gw-doomed'),
      'gw-doomed to expire from presence',
    );
    expect(await online()).toEqual(expect.arrayContaining(['gw-a', 'gw-b']));
  });

  it('lets a client that asked for heartbeat events notice a frozen gateway and resume on another without loss', async () => {
    // A frozen process (or a half-open connection) keeps its sockets open: without a heartbeat
    // it can see, an EventSource waits for the connection timeout (300 s) or for ever.
    const frozen = await startGateway('gw-frozen', { HEARTBEAT_MS: '500' });
    extra.push(frozen);
    let target = frozen.url;
    const ash = new SseClient(() => target, await bearer('ash'), '/events?heartbeat=event', {
      watchdog: true,
    });
    clients.push(ash);
    await ash.waitFor((c) => c.sessions().length === 1, "ash's session");
    expect(ash.sessions()[0]?.params).toMatchObject({ serverId: 'gw-frozen', heartbeatMs: 500 });
    await ash.waitFor((c) => c.heartbeats >= 2, 'heartbeat events');
    await log.append(toUser('ash', 1));
    await ash.waitFor((c) => c.ns().includes(1), 'the first note');
    const sessionsBefore = ash.sessions().length;
    const silencesBefore = ash.silences;

    frozen.child.kill('SIGSTOP');
    try {
      const frozenAt = Date.now();
      for (let n = 2; n <= 4; n++) await log.append(toUser('ash', n));
      target = b.url;
      await ash.waitFor((c) => c.ns().includes(4), 'the missed notes from the other gateway');
      // Noticed after 3 silent heartbeat intervals (1.5 s), not at the connection timeout.
      expect(Date.now() - frozenAt).toBeLessThan(10_000);
      expect(ash.silences).toBe(silencesBefore + 1);
      expect(ash.ns()).toEqual([1, 2, 3, 4]);
      expect(ash.sessions()).toHaveLength(sessionsBefore + 1);
      expect(ash.sessions().at(-1)?.params).toMatchObject({
        serverId: 'gw-b',
        resumed: 'replayed',
        replayed: 3,
      });
    } finally {
      frozen.child.kill('SIGCONT');
    }
  });

  it("resumes from the session id of a fresh gateway's empty log by replaying what was logged since", async () => {
    const prefix = `${ns.id}fresh`;
    const fresh = await startGateway('gw-fresh', { TOPIC_PREFIX: prefix });
    extra.push(fresh);
    const freshLog = new RedisNotificationLog({ client: redis, keyPrefix: `${prefix}:` });
    try {
      const first = await connect('ash', () => fresh.url);
      const start = first.sessions()[0]!.id;
      expect(start).toBe('0-0');
      first.close();
      await freshLog.append(toUser('ash', 'result'));
      const resumed = await connect('ash', () => fresh.url, { 'Last-Event-ID': start });
      expect(resumed.sessions()[0]?.params).toMatchObject({ resumed: 'replayed', replayed: 1 });
      await resumed.waitFor((c) => c.ns().includes('result'), 'the missed note');
      expect(resumed.notifications('recovery')).toEqual([]);
    } finally {
      await freshLog.close();
    }
  });

  it('sends recovery with the visible positions when the client missed more than the history', async () => {
    // The read models as projection-worker writes them with the default READ_MODEL_STORE.
    const positions = new RedisTrainerPositions({ client: redis, keyPrefix: `${ns.id}:` });
    const groups = new RedisGroupMembers({ client: redis, keyPrefix: `${ns.id}:` });
    const row = (trainerId: string, x: number) => ({
      trainerId,
      x,
      y: 1,
      isMoving: false,
      dirX: 0,
      dirY: 0,
      speed: 0,
      startedAt: 0,
      version: 1,
      updatedAt: Date.now(),
    });
    for (const [id, x] of [
      ['gary', 1],
      ['rec-ash', 2],
      ['rec-misty', 3],
      ['rec-brock', 4],
    ] as const)
      await positions.apply(row(id, x));
    await groups.apply({ trainerId: 'rec-ash', groupId: 'g1', action: 'join', version: 1 });
    await groups.apply({ trainerId: 'rec-misty', groupId: 'g1', action: 'join', version: 1 });
    await groups.apply({ trainerId: 'rec-brock', groupId: 'g2', action: 'join', version: 1 });

    const first = await connect('rec-ash', () => a.url);
    await log.append(toUser('rec-ash', 0));
    await first.waitFor((c) => c.ns().includes(0), 'the first note');
    first.close();
    for (let n = 1; n <= 25; n++) await log.append(toUser('rec-ash', n)); // HISTORY_SIZE is 20
    const resumed = await connect('rec-ash', () => b.url, { 'Last-Event-ID': first.lastId! });
    await resumed.waitFor((c) => c.notifications('recovery').length === 1, 'the recovery frame');
    expect(resumed.sessions()[0]?.params).toMatchObject({ resumed: 'recovery', replayed: 0 });
    const recovery = resumed.notifications('recovery')[0]!;
    expect(recovery.params.reason).toBe('too-many-missed');
    const seen = (recovery.params.positions as { trainerId: string }[]).map((p) => p.trainerId);
    expect(seen).toEqual(expect.arrayContaining(['gary', 'rec-ash', 'rec-misty']));
    expect(seen).not.toContain('rec-brock');
    expect(resumed.ns()).toEqual([]);
    await log.append(toUser('rec-ash', 'live'));
    await resumed.waitFor((c) => c.ns().includes('live'), 'the live note after recovery');
  });

  it('shows a user only their own presence and their group members', async () => {
    await connect('p-ash', () => a.url);
    await connect('p-gary', () => b.url);
    const view = async (headers: Record<string, string>) =>
      (await (await fetch(`${a.url}/api/presence`, { headers })).json()) as {
        instances: { serverId: string; users: { userId: string; connections: number }[] }[];
      };
    await until(async () => {
      const users = (await view({ Authorization: `Bearer ${adminToken}` })).instances.flatMap(
        (i) => i.users,
      );
      return users.some((u) => u.userId === 'p-gary') && users.some((u) => u.userId === 'p-ash');
    }, 'both users online');
    const mine = await view(await bearer('p-ash'));
    expect(mine.instances.flatMap((i) => i.users.map((u) => u.userId))).toEqual(['p-ash']);
    expect(mine.instances.map((i) => i.serverId)).toEqual(['gw-a']);
    const anonymous = await fetch(`${a.url}/api/presence`);
    expect(anonymous.status).toBe(401);
  });
});

describe('sse-gateway admission', () => {
  it('answers 401 problem details without a valid credential, naming what is wrong', async () => {
    const expired = (await tokens.issue('ash', { ttlSeconds: -10 })).token;
    const cases: [string, RequestInit | undefined, string][] = [
      ['/events', undefined, 'missing'],
      ['/events', { headers: { Authorization: 'Bearer not-a-jwt' } }, 'invalid'],
      // An access token is not a stream token.
      [`/events?token=${(await tokens.issue('ash')).token}`, undefined, 'invalid'],
      ['/events', { headers: { Cookie: 'causeway_token=garbage' } }, 'invalid'],
      ['/events', { headers: { Authorization: `Bearer ${expired}` } }, 'expired'],
    ];
    // RFC 6750: the realm alone when no token came; invalid_token and why when one was refused.
    const challenges: Record<string, string> = {
      missing: 'Bearer realm="causeway"',
      invalid:
        'Bearer realm="causeway", error="invalid_token", error_description="the token is not valid"',
      expired:
        'Bearer realm="causeway", error="invalid_token", error_description="the token expired"',
    };
    for (const [url, init, reason] of cases) {
      const response = await fetch(`${a.url}${url}`, init);
      expect(response.status).toBe(401);
      // The same challenge and media type as command-api's 401.
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(response.headers.get('www-authenticate')).toBe(challenges[reason]);
      const problem = (await response.json()) as { title: string; detail: string; reason: string };
      expect(problem.title).toBe('Unauthorized');
      expect(problem.reason).toBe(reason);
      expect(problem.detail.length).toBeGreaterThan(10);
    }
    const badId = await fetch(`${a.url}/events?lastEventId=nope`, { headers: await bearer('ash') });
    expect(badId.status).toBe(400);
    const badIdProblem = (await badId.json()) as { type: string; detail: string; errors: unknown };
    expect(badIdProblem.type).toBe('https://causeway.dev/problems/invalid-request');
    expect(badIdProblem.detail).toContain('Last-Event-ID');
    // Field errors are `{field, message}`, as command-api's.
    expect(badIdProblem.errors).toEqual([
      { field: 'Last-Event-ID', message: 'must be an id received in an `id:` line' },
    ]);
    const twice = await fetch(`${a.url}/events?lastEventId=1-0&lastEventId=2-0`, {
      headers: await bearer('ash'),
    });
    expect(twice.status).toBe(400);
    expect(((await twice.json()) as { detail: string }).detail).toBe(
      'lastEventId must appear once',
    );
    const badCookie = await fetch(`${a.url}/events`, {
      headers: { Cookie: 'causeway_token=%E0%A4%A' },
    });
    expect(badCookie.status).toBe(401);
    expect(((await badCookie.json()) as { detail: string }).detail).toContain('causeway_token');
  });

  it('answers a method a known path does not serve with 405 and Allow; an unknown path with 404', async () => {
    await expectMethodsNotAllowed(a.url, [
      ['OPTIONS', '/events', 'GET, HEAD'],
      ['POST', '/events', 'GET, HEAD'],
      ['DELETE', '/api/presence', 'GET, HEAD'],
      ['GET', '/api/stream-tokens', 'POST'],
      ['PUT', '/api/session', 'DELETE, POST'],
    ]);
    const head = await fetch(`${a.url}/api/presence`, { method: 'HEAD' });
    expect(head.status).toBe(401); // a GET route's HEAD is served as Express serves it
    const unknown = await fetch(`${a.url}/api/nothing-here`, { method: 'PUT' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('allow')).toBeNull();
  });

  it('answers a request whose headers are too large with a 431 problem document', async () => {
    const response = await rawRequest(
      a.url,
      `GET /api/presence HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(response).toMatch(/^HTTP\/1\.1 431 /);
    expect(response).toMatch(/\r\nContent-Type: application\/problem\+json\r\n/i);
    expect(JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4))).toMatchObject({
      status: 431,
      title: 'Request Header Fields Too Large',
    });
    const malformed = await rawRequest(a.url, 'GET /api/presence HTTP/1.1\r\nBad Header\r\n\r\n');
    expect(malformed).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(malformed.slice(malformed.indexOf('\r\n\r\n') + 4))).toMatchObject({
      status: 400,
    });
  });

  it('opens a stream with a stream token in ?token= and with the session cookie', async () => {
    const issued = await fetch(`${a.url}/api/stream-tokens`, {
      method: 'POST',
      headers: await bearer('ash'),
    });
    expect(issued.status).toBe(201);
    const { token, expiresAt } = (await issued.json()) as { token: string; expiresAt: number };
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(60_000);
    const viaQuery = new SseClient(() => a.url, {}, `/events?token=${token}`);
    clients.push(viaQuery);
    await viaQuery.waitFor((c) => c.sessions().length === 1, 'the stream via ?token=');

    const session = await fetch(`${a.url}/api/session`, {
      method: 'POST',
      headers: await bearer('ash'),
    });
    expect(session.status).toBe(204);
    const cookie = session.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^causeway_token=[^;]+; HttpOnly; SameSite=Strict; Path=\//);
    const viaCookie = new SseClient(() => a.url, { Cookie: cookie.split(';')[0]! });
    clients.push(viaCookie);
    await viaCookie.waitFor((c) => c.sessions().length === 1, 'the stream via cookie');
    // What the page reads besides the stream takes the same cookie.
    for (const path of ['/api/positions', '/api/presence']) {
      const answer = await fetch(`${a.url}${path}`, { headers: { Cookie: cookie.split(';')[0]! } });
      expect({ path, status: answer.status }).toEqual({ path, status: 200 });
    }
    const logout = await fetch(`${a.url}/api/session`, { method: 'DELETE' });
    expect(logout.headers.get('set-cookie')).toContain('Max-Age=0');
  });

  it('ends a stream opened with a stream token when the access token behind it expires; the client renews and resumes', async () => {
    // An access token with 3 s left, and a stream token for it (which alone would last 60 s).
    const short = await tokens.issue('dawn', { ttlSeconds: 3 });
    const issued = await fetch(`${a.url}/api/stream-tokens`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${short.token}` },
    });
    const stream = (await issued.json()) as { token: string; expiresAt: number };
    expect(stream.expiresAt).toBeLessThanOrEqual(short.expiresAt);
    const client = new SseClient(() => a.url, {}, `/events?token=${stream.token}`);
    clients.push(client);
    await client.waitFor((c) => c.sessions().length === 1, "dawn's session");
    const before = await log.append(toUser('dawn', 'before'));
    await client.waitFor((c) => c.notifications('test.note').length === 1, 'the live note');
    await client.waitFor(
      (c) => c.notifications('expired').length === 1,
      'the end of the session',
      8_000,
    );
    const expired = client.notifications('expired')[0]!;
    expect(expired.id).toBe(before);
    expect(expired.params).toEqual({ expiredAt: short.expiresAt });
    expect(Date.now()).toBeGreaterThanOrEqual(short.expiresAt);
    // The browser's reconnect with the same URL is refused: the session is over.
    await until(() => client.source.readyState === 2, 'the EventSource to give up', 5_000);
    const again = await fetch(`${a.url}/events?token=${stream.token}`);
    expect(again.status).toBe(401);
    expect(await again.json()).toMatchObject({ reason: 'expired' });

    // Meanwhile a note; with a renewed token the client resumes from the `expired` frame's id.
    await log.append(toUser('dawn', 'missed'));
    const renewed = await fetch(`${b.url}/api/stream-tokens`, {
      method: 'POST',
      headers: await bearer('dawn'),
    });
    const { token } = (await renewed.json()) as { token: string };
    const resumed = new SseClient(
      () => b.url,
      {},
      `/events?token=${token}&lastEventId=${encodeURIComponent(expired.id)}`,
    );
    clients.push(resumed);
    await resumed.waitFor((c) => c.notifications('test.note').length === 1, 'the missed note');
    expect(resumed.sessions()[0]?.params).toMatchObject({ resumed: 'replayed', replayed: 1 });
    expect(resumed.notifications('test.note').map((frame) => frame.params.n)).toEqual(['missed']);
  });

  it("disconnects every stream of a user on every gateway on an operator's order, and no one else's", async () => {
    const streams = [
      await connect('jessie', () => a.url),
      await connect('jessie', () => b.url),
      await connect('james', () => b.url),
    ];
    const refused = await fetch(`${a.url}/api/presence/jessie/disconnect`, {
      method: 'POST',
      headers: await bearer('jessie'),
    });
    expect(refused.status).toBe(401);
    const ordered = await fetch(`${a.url}/api/presence/jessie/disconnect`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'team rocket blasting off' }),
    });
    expect(ordered.status).toBe(202);
    // Both gateways (and any other gateway of this namespace started by an earlier test) hear it.
    const answer = (await ordered.json()) as { userId: string; instances: number };
    expect(answer.userId).toBe('jessie');
    expect(answer.instances).toBeGreaterThanOrEqual(2);
    for (const stream of streams.slice(0, 2))
      await stream.waitFor(
        (c) => c.notifications('disconnected').length === 1,
        'the disconnected frame',
      );
    for (const stream of streams.slice(0, 2))
      expect(stream.notifications('disconnected')[0]?.params).toEqual({
        reason: 'team rocket blasting off',
      });
    // james's stream is still live and still gets his notifications.
    await log.append(toUser('james', 'still here'));
    await streams[2]!.waitFor((c) => c.notifications('test.note').length === 1, "james's note");
    expect(streams[2]!.notifications('disconnected')).toEqual([]);
  });

  it("revokes a user's tokens on every gateway when the order says so", async () => {
    const old = await bearer('giovanni');
    const stream = await connect('giovanni', () => b.url);
    const ordered = await fetch(`${a.url}/api/presence/giovanni/disconnect`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ revoke: true }),
    });
    expect(ordered.status).toBe(202);
    const { revokedUntil } = (await ordered.json()) as { revokedUntil: number };
    await stream.waitFor((c) => c.notifications('disconnected').length === 1, 'the disconnect');
    // Gateway b learnt of the cut over Redis: the old token opens nothing there (nor on a).
    for (const gateway of [a, b]) {
      const deadline = Date.now() + 3_000;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await fetch(`${gateway.url}/api/positions`, { headers: old })).status;
        if (status === 401) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect({ gateway: gateway.url, status }).toEqual({ gateway: gateway.url, status: 401 });
    }
    // Within the clock allowance after the cut (60 s), a token issued now is refused too: an
    // issuer whose clock runs ahead could have issued it before the revocation.
    expect(
      (await fetch(`${b.url}/api/positions`, { headers: await bearer('giovanni') })).status,
    ).toBe(401);
    expect(revokedUntil).toBeLessThanOrEqual(Date.now());
  });

  it('ends the streams of a revoked user on every gateway even without a disconnect order', async () => {
    // The revocation alone, as command-api or an instance that missed the order would see it.
    const streams = [await connect('lance', () => a.url), await connect('lance', () => b.url)];
    const other = await connect('clair', () => b.url);
    const revocations = new RedisTokenRevocations(redis, { keyPrefix: `${ns.id}:` });
    await revocations.revoke('lance');
    for (const stream of streams)
      await stream.waitFor(
        (c) => c.notifications('disconnected').length === 1,
        'the end of the revoked stream',
      );
    expect(streams[0]!.notifications('disconnected')[0]?.params).toEqual({
      reason: 'your sign-in was revoked: sign in again',
    });
    await log.append(toUser('clair', 'unaffected'));
    await other.waitFor((c) => c.notifications('test.note').length === 1, "clair's note");
  });

  it('answers 429 beyond the per-user limit and 503 beyond the instance limit, with Retry-After', async () => {
    const small = await startGateway('gw-small', {
      MAX_CONNECTIONS: '2',
      MAX_CONNECTIONS_PER_USER: '1',
    });
    extra.push(small);
    await connect('ash', () => small.url);
    const tooMany = await fetch(`${small.url}/events`, { headers: await bearer('ash') });
    expect(tooMany.status).toBe(429);
    expect(tooMany.headers.get('retry-after')).toBe('5');
    expect(tooMany.headers.get('content-type')).toContain('application/problem+json');
    expect(((await tooMany.json()) as { type: string }).type).toBe(
      'https://causeway.dev/problems/user-limit',
    );
    await connect('misty', () => small.url);
    const full = await fetch(`${small.url}/events`, { headers: await bearer('brock') });
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('5');
    expect(await full.json()).toMatchObject({
      type: 'https://causeway.dev/problems/instance-full',
      detail: expect.stringContaining('maximum of 2'),
    });
  });

  it('answers HEAD /events with the stream headers and opens no stream', async () => {
    const gateway = await startGateway('gw-head', { MAX_CONNECTIONS_PER_USER: '1' });
    extra.push(gateway);
    const head = await fetch(`${gateway.url}/events`, {
      method: 'HEAD',
      headers: await bearer('ash'),
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toContain('text/event-stream');
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/^causeway_sse_connections(\{[^}]*\})? 0$/m);
    expect(metrics).not.toMatch(/^causeway_sse_streams_total\{/m);
    // Its slot is free: the user's one stream opens.
    await connect('ash', () => gateway.url);
  });

  it('sends the stream headers, heartbeats, and tells clients to retry on SIGTERM', async () => {
    const short = await startGateway(`gw-short-${randomUUID().slice(0, 4)}`, {
      HEARTBEAT_MS: '100',
    });
    extra.push(short);
    const controller = new AbortController();
    const response = await fetch(`${short.url}/events`, {
      headers: await bearer('ash'),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('cache-control')).toContain('no-cache');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
    };
    await readUntil(/\n:\n\n/);
    expect(text).toMatch(/"method":"session"/);
    const exit = short.stop('SIGTERM');
    await readUntil(/"method":"shutdown"/);
    // A retry hint, then the shutdown frame with the id to resume from: the session's, as
    // nothing else was sent.
    const sessionId = /id: (\S+)\ndata: \{"jsonrpc":"2.0","method":"session"/.exec(text)?.[1];
    expect(sessionId).toBeDefined();
    expect(text).toMatch(/retry: \d+\n\nid: (\S+)\ndata: \{"jsonrpc":"2.0","method":"shutdown"/);
    expect(/id: (\S+)\ndata: \{"jsonrpc":"2.0","method":"shutdown"/.exec(text)?.[1]).toBe(
      sessionId,
    );
    await readUntil(/$^/); // until the stream ends
    expect(await exit).toBe(0);
    controller.abort();
  });
});

/** Sends `raw` as is on a new connection; resolves with all the server wrote until it closed. */
function rawRequest(url: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(raw));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
