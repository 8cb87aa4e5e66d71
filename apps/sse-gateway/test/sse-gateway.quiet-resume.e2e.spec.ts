import path from 'node:path';
import { type Notification } from '@causeway/contracts';
import { RedisNotificationLog, TokenService } from '@causeway/platform';
import {
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import Redis from 'ioredis';
import { SseClient, until } from './sse.client';

/**
 * A client whose user receives nothing while others are busy: its resume point moves on with
 * the log (id-only heartbeats, the ids of `heartbeat` events, the closing frames), so that its
 * routine reconnect (here the gateway's own connection timeout) is an empty replay, not a
 * `recovery` for a gap it missed nothing in (ADR 007, session 36 addendum).
 */
const ns = testNamespace('ssequiet');
const appDir = path.join(__dirname, '..');
const secret = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret });

let redis: Redis;
let log: RedisNotificationLog;
let gateway: ServiceProcess;
const clients: SseClient[] = [];
const aborts: AbortController[] = [];

let sequence = 0;
const toUser = (userId: string, n: unknown): Notification => ({
  notificationId: `${ns.id}-${sequence++}`,
  method: 'test.note',
  params: { n },
  serverId: 'test',
  targetType: 'user',
  targetIds: [userId],
});

beforeAll(async () => {
  redis = new Redis(ns.redisUrl);
  log = new RedisNotificationLog({ client: redis, keyPrefix: `${ns.id}:` });
  gateway = await startServiceProcess({
    appDir,
    env: {
      REDIS_URL: ns.redisUrl,
      ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
      JWT_SECRET: secret,
      TOPIC_PREFIX: ns.id,
      INSTANCE_ID: 'gw-quiet',
      SSE_RETRY_MS: '100',
      RATE_LIMIT_POINTS: '10000',
      // Stands for the default 2 000 (10 s of a 200 moves/s system).
      HISTORY_SCAN_LIMIT: '50',
      HEARTBEAT_MS: '300',
      CONNECTION_TIMEOUT_MS: '3000',
    },
  });
  await waitForStatus(`${gateway.url}/health/ready`, 200);
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.close();
  for (const abort of aborts) abort.abort();
  await gateway?.stop('SIGKILL');
  await log?.close();
  const keys = await redis.keys(`${ns.id}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

async function bearer(userId: string): Promise<Record<string, string>> {
  const { token } = await tokens.issue(userId);
  return { Authorization: `Bearer ${token}` };
}

/**
 * GET /events read as an EventSource that follows the WHATWG parsing rules (a browser) reads it:
 * `lastEventId` is what its reconnect sends as Last-Event-ID — the last `id:` field of a
 * complete event, whether the event had data (and was dispatched) or not.
 */
function rawStream(headers: Record<string, string>) {
  const abort = new AbortController();
  aborts.push(abort);
  const stream = { text: '', ended: false };
  const done = (async () => {
    const response = await fetch(`${gateway.url}/events`, { headers, signal: abort.signal });
    expect(response.status).toBe(200);
    const decoder = new TextDecoder();
    for await (const chunk of response.body!) stream.text += decoder.decode(chunk as Uint8Array);
    stream.ended = true;
  })();
  const events = () => stream.text.split('\n\n').slice(0, -1);
  return {
    done,
    abort: () => abort.abort(),
    events,
    lastEventId: () => {
      let id: string | undefined;
      for (const event of events())
        for (const line of event.split('\n')) if (line.startsWith('id: ')) id = line.slice(4);
      return id;
    },
    /** The JSON-RPC notifications of the stream (events with data). */
    notifications: () =>
      events().flatMap((event) =>
        event
          .split('\n')
          .filter((line) => line.startsWith('data: '))
          .map((line) => JSON.parse(line.slice(6)) as { method: string; params: object }),
      ),
  };
}

describe('a client that receives nothing while the log moves on', () => {
  it("resumes a comment stream's routine reconnect as an empty replay, though the gap exceeds HISTORY_SCAN_LIMIT", async () => {
    await log.append(toUser('someone', 'warm-up'));
    const auth = await bearer('quiet-1');
    const quiet = rawStream(auth);
    await until(() => quiet.notifications().length === 1, 'the session frame');
    // 60 notifications for another user: the quiet client misses nothing.
    for (let i = 0; i < 60; i++) await log.append(toUser('busy', i));
    // The gateway ends the stream at its connection timeout; the browser reconnects with the
    // id the stream left it.
    await quiet.done;
    expect(quiet.notifications().map((n) => n.method)).toEqual(['session']);
    const resumed = rawStream({ ...auth, 'Last-Event-ID': quiet.lastEventId()! });
    await until(() => resumed.notifications().length >= 1, 'the resumed session frame');
    resumed.abort();
    await resumed.done.catch(() => undefined);
    expect(resumed.notifications()[0]).toMatchObject({
      method: 'session',
      params: { resumed: 'replayed', replayed: 0 },
    });
  }, 30_000);

  it('resumes a `?heartbeat=event` stream (the eventsource package) as an empty replay once its last frame was trimmed from the log', async () => {
    await log.append(toUser('someone', 'warm-up-2'));
    const quiet = new SseClient(
      () => gateway.url,
      await bearer('quiet-2'),
      '/events?heartbeat=event',
    );
    clients.push(quiet);
    await quiet.waitFor((c) => c.sessions().length === 1, 'the first session');
    const session = quiet.sessions()[0]!.id;
    let last = '';
    for (let i = 0; i < 10; i++) last = await log.append(toUser('busy', `t${i}`));
    // Its heartbeat events carry its resume point: the log's end, which it missed nothing up to.
    await quiet.waitFor((c) => c.lastId === last, 'a heartbeat with the moved id');
    // The log's own bounds (NOTIFICATION_LOG_MAX_LENGTH, …_RETENTION_MS) trim its oldest end:
    // 5 entries stay, far fewer than HISTORY_SCAN_LIMIT, but the session's id is gone.
    await redis.xtrim(log.stream, 'MAXLEN', 5);
    expect(log.compare((await log.oldestId())!, session)).toBeGreaterThan(0);
    await quiet.waitFor((c) => c.sessions().length === 2, 'the routine reconnect', 20_000);
    expect(quiet.notifications('recovery')).toEqual([]);
    expect(quiet.sessions()[1]).toMatchObject({
      id: last,
      params: { resumed: 'replayed', replayed: 0 },
    });
  }, 30_000);

  // A review (session 41): a log quiet for longer than NOTIFICATION_LOG_RETENTION_MS trims, on
  // its next append, the entry clients hold as their last id; their reconnect got `recovery`
  // (`trimmed`) although they missed nothing.
  it('resumes as an empty replay after a quiet log trimmed, on its next append, the entry the client held', async () => {
    const retentionMs = 300;
    const appender = new RedisNotificationLog({
      client: redis,
      keyPrefix: `${ns.id}:`,
      retentionMs,
    });
    const auth = await bearer('quiet-3');
    const busy = rawStream(await bearer('busy-3'));
    await until(() => busy.notifications().length === 1, "the other user's session frame");
    // The client's last entry; then it goes away (a laptop asleep) and the log stays quiet.
    const held = await log.append(toUser('quiet-3', 'last'));
    // Time must pass beyond the retention: nothing happens that could be awaited instead.
    await new Promise((resolve) => setTimeout(resolve, retentionMs + 100));
    const next = await appender.append(toUser('busy-3', 'after the quiet spell'));
    expect(await log.oldestId()).toBe(next);
    // The gateway dispatched it: the resume's gap is (held, next], all of it for someone else.
    await until(() => busy.notifications().length === 2, 'the next entry dispatched');
    busy.abort();
    await busy.done.catch(() => undefined);
    const resumed = rawStream({ ...auth, 'Last-Event-ID': held });
    await until(() => resumed.notifications().length >= 1, 'the resumed session frame');
    resumed.abort();
    await resumed.done.catch(() => undefined);
    expect(resumed.notifications().map((n) => n.method)).toEqual(['session']);
    expect(resumed.notifications()[0]).toMatchObject({
      method: 'session',
      params: { resumed: 'replayed', replayed: 0 },
    });
  }, 30_000);
});
