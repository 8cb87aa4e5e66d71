import path from 'node:path';
import net from 'node:net';
import { type Notification } from '@causeway/contracts';
import { RedisNotificationLog, TokenService } from '@causeway/platform';
import {
  freePort,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import Redis from 'ioredis';
import { SseClient, until } from './sse.client';

/**
 * A TCP proxy that can stall: while stalled it neither reads nor writes either side of any
 * connection (new ones are accepted and held too), as a blackholed network path does — no RST,
 * no FIN, the bytes wait. `heal` lets everything through again.
 */
class StallingProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private stalled = false;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => this.sockets.delete(socket));
        if (this.stalled) socket.pause();
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
  }

  stall(): void {
    this.stalled = true;
    for (const socket of this.sockets) socket.pause();
  }

  heal(): void {
    this.stalled = false;
    for (const socket of this.sockets) socket.resume();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const ns = testNamespace('ssecutoff');
const appDir = path.join(__dirname, '..');
const secret = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret });
const HEARTBEAT_MS = 1_000;
/** The hub's bound: 2 heartbeats, at least MIN_LOG_SILENCE_MS (10 s). */
const LOG_SILENCE_MS = 10_000;

let redis: Redis;
let log: RedisNotificationLog;
let proxy: StallingProxy | undefined;
let gateway: ServiceProcess | undefined;
const clients: SseClient[] = [];

let sequence = 0;
function note(n: number): Notification {
  return {
    notificationId: `${ns.id}-${sequence++}`,
    method: 'test.note',
    params: { n },
    serverId: 'test',
    targetType: 'user',
    targetIds: ['ash'],
  };
}

async function connect(headers: Record<string, string> = {}): Promise<SseClient> {
  const { token } = await tokens.issue('ash');
  const client = new SseClient(
    () => gateway!.url,
    { Authorization: `Bearer ${token}`, ...headers },
    '/events?heartbeat=event',
  );
  clients.push(client);
  await client.waitFor((c) => c.sessions().length === 1, 'the session frame');
  return client;
}

beforeAll(async () => {
  redis = new Redis(ns.redisUrl);
  log = new RedisNotificationLog({ client: redis, keyPrefix: `${ns.id}:` });
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await gateway?.stop('SIGKILL');
  await proxy?.close();
});

afterAll(async () => {
  await log?.close();
  const keys = await redis.keys(`${ns.id}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('sse-gateway cut off from its notification log', () => {
  // Degraded-network review (session 30): with the path to Redis blackholed, the gateway's
  // streams got nothing live but kept their heartbeats, so no client gave up on them.
  it('ends its streams and refuses new ones within the bound, and a resume after the heal replays the gap', async () => {
    const upstream = new URL(ns.redisUrl);
    proxy = new StallingProxy({ host: upstream.hostname, port: Number(upstream.port || 6379) });
    const proxyPort = await freePort();
    await proxy.listen(proxyPort);
    const viaProxy = new URL(ns.redisUrl);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxyPort);
    gateway = await startServiceProcess({
      appDir,
      env: {
        REDIS_URL: viaProxy.toString(),
        ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
        JWT_SECRET: secret,
        TOPIC_PREFIX: ns.id,
        HEARTBEAT_MS: String(HEARTBEAT_MS),
        SSE_RETRY_MS: '200',
      },
    });
    await waitForStatus(`${gateway.url}/health/ready`, 200);

    const client = await connect();
    const first = await log.append(note(1));
    await client.waitFor((c) => c.ns().includes(1), 'the first note');
    await client.waitFor((c) => c.heartbeats >= 1, 'a heartbeat');
    expect(client.lastId).toBe(first);

    proxy.stall();
    const stalledAt = Date.now();
    // Appended meanwhile by the rest of the deployment, which still reaches Redis.
    for (const n of [2, 3, 4]) await log.append(note(n));

    // The stream is ended (the EventSource reports the drop) within the bound plus the check.
    await until(() => client.errors > 0, 'the stream to end', LOG_SILENCE_MS + 5_000);
    expect(Date.now() - stalledAt).toBeGreaterThanOrEqual(LOG_SILENCE_MS - 1_000);
    const heartbeats = client.heartbeats;
    const sessions = client.sessions().length;
    // Cut off, the instance vouches for no stream: nothing more arrives, none is opened.
    await new Promise((resolve) => setTimeout(resolve, 3 * HEARTBEAT_MS));
    expect(client.heartbeats).toBe(heartbeats);
    expect(client.sessions()).toHaveLength(sessions);
    expect(client.ns()).toEqual([1]);
    // A new stream is refused as /health/ready is: 503 with Retry-After (HEAD says why).
    const { token } = await tokens.issue('ash');
    const refused = await fetch(`${gateway.url}/events`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5_000),
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    const lastId = client.lastId!;
    client.close();

    proxy.heal();
    await waitForStatus(`${gateway.url}/health/ready`, 200, 20_000);
    // A resume with the last id replays what was appended during the cut, then goes live.
    const resumed = await connect({ 'Last-Event-ID': lastId });
    expect(resumed.sessions()[0]!.params).toMatchObject({ resumed: 'replayed', replayed: 3 });
    await resumed.waitFor((c) => c.ns().length >= 3, 'the replayed notes');
    await log.append(note(5));
    await resumed.waitFor((c) => c.ns().length >= 4, 'a live note');
    await resumed.waitFor((c) => c.heartbeats >= 1, 'heartbeats again');
    expect(resumed.ns()).toEqual([2, 3, 4, 5]);
  }, 60_000);
});
