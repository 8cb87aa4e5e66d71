import path from 'node:path';
import net from 'node:net';
import { type Notification } from '@causeway/contracts';
import { RedisNotificationLog, RedisTrainerPositions, TokenService } from '@causeway/platform';
import {
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import Redis from 'ioredis';

/**
 * A `recovery` holds every visible recent position (megabytes with many public trainers): a
 * client whose connection drops (a network blip, a slow-client drop) after the recovery's
 * `session` frame but before the whole `recovery` frame must resume from its old id and be
 * recovered again. Its session frame used to carry the recovered-to id already: the next resume
 * was an empty replay, and the state of the gap never reached it (ADR 007, session 36).
 */
const ns = testNamespace('ssereccut');
const appDir = path.join(__dirname, '..');
const secret = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret });
const TRAINERS = 15_000;

let redis: Redis;
let log: RedisNotificationLog;
let gateway: ServiceProcess;
const sockets: net.Socket[] = [];

let sequence = 0;
const note = (
  target: Pick<Notification, 'targetType' | 'targetIds'>,
  n: unknown,
): Notification => ({
  notificationId: `${ns.id}-${sequence++}`,
  method: 'test.note',
  params: { n },
  serverId: 'test',
  ...target,
});

beforeAll(async () => {
  redis = new Redis(ns.redisUrl);
  log = new RedisNotificationLog({ client: redis, keyPrefix: `${ns.id}:` });
  const positions = new RedisTrainerPositions({ client: redis, keyPrefix: `${ns.id}:` });
  const now = Date.now();
  for (let i = 0; i < TRAINERS; i += 500)
    await Promise.all(
      Array.from({ length: Math.min(500, TRAINERS - i) }, (_, k) =>
        positions.apply({
          trainerId: `${ns.id}-public-trainer-${i + k}`,
          x: i + k,
          y: 1,
          isMoving: false,
          dirX: 0,
          dirY: 0,
          speed: 0,
          startedAt: 0,
          version: 1,
          updatedAt: now,
        }),
      ),
    );
  gateway = await startServiceProcess({
    appDir,
    env: {
      REDIS_URL: ns.redisUrl,
      ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
      JWT_SECRET: secret,
      TOPIC_PREFIX: ns.id,
      INSTANCE_ID: 'gw-reccut',
      RATE_LIMIT_POINTS: '10000',
      HISTORY_SIZE: '1',
    },
  });
  await waitForStatus(`${gateway.url}/health/ready`, 200);
}, 120_000);

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await gateway?.stop('SIGKILL');
  await log?.close();
  for await (const keys of redis.scanStream({ match: `${ns.id}*`, count: 1_000 }))
    if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]));
  redis.disconnect();
});

interface Frame {
  id?: string;
  method?: string;
  params?: Record<string, unknown>;
}

/** The complete frames (ended by a blank line) of an SSE body, as EventSource would parse them. */
function completeFrames(body: string): Frame[] {
  const start = body.indexOf('\r\n\r\n');
  if (start < 0) return [];
  // chunked encoding: drop the chunk-size lines (hex lines on their own)
  const text = body
    .slice(start + 4)
    .split('\r\n')
    .filter((line, index) => index % 2 === 1)
    .join('');
  const blocks = text.split('\n\n');
  blocks.pop(); // the incomplete tail, if any
  return blocks.map((block) => {
    const frame: Frame = {};
    for (const line of block.split('\n')) {
      if (line.startsWith('id: ')) frame.id = line.slice(4);
      if (line.startsWith('data: ')) {
        const data = JSON.parse(line.slice(6)) as {
          method: string;
          params: Record<string, unknown>;
        };
        frame.method = data.method;
        frame.params = data.params;
      }
    }
    return frame;
  });
}

/**
 * GET /events on a raw socket whose connection breaks (a network drop) as soon as the client has
 * parsed its first complete frame; resolves with all it got.
 */
function droppedAfterFirstFrame(headers: Record<string, string>): Promise<string> {
  const url = new URL(gateway.url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    sockets.push(socket);
    let body = '';
    socket.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
      if (completeFrames(body).length > 0) socket.destroy();
    });
    socket.on('close', () => resolve(body));
    socket.on('error', () => undefined);
    socket.write(
      `GET /events HTTP/1.1\r\nHost: ${url.host}\r\n` +
        Object.entries(headers)
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('') +
        '\r\n',
    );
  });
}

/** Opens a stream with fetch and returns its first complete frame (the session frame). */
async function sessionOf(headers: Record<string, string>): Promise<Frame> {
  const controller = new AbortController();
  const response = await fetch(`${gateway.url}/events`, { headers, signal: controller.signal });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  let text = '';
  while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
  controller.abort();
  const frame: Frame = {};
  for (const line of text.split('\n\n')[0]!.split('\n')) {
    if (line.startsWith('id: ')) frame.id = line.slice(4);
    if (line.startsWith('data: '))
      Object.assign(frame, JSON.parse(line.slice(6)) as { method: string; params: object });
  }
  return frame;
}

describe('a recovery cut short', () => {
  it('is offered again to a client that got its session frame but not its recovery frame', async () => {
    const { token } = await tokens.issue('slow-ash');
    const auth = { Authorization: `Bearer ${token}` };
    const first = await sessionOf(auth);
    // Missed 3 notifications for a history of 1: a resume is a recovery.
    for (let i = 0; i < 3; i++)
      await log.append(note({ targetType: 'user', targetIds: ['slow-ash'] }, i));
    const body = await droppedAfterFirstFrame({ ...auth, 'Last-Event-ID': first.id! });
    const frames = completeFrames(body);
    // What the client got: the session frame of a recovery, and no complete recovery frame.
    expect(frames[0]).toMatchObject({ method: 'session', params: { resumed: 'recovery' } });
    // It repeats the client's id: only the recovery frame moves it on.
    expect(frames[0]!.id).toBe(first.id);
    expect(frames.some((frame) => frame.method === 'recovery')).toBe(false);
    // EventSource resumes from the last id it parsed: the session frame's.
    const lastId = frames.at(-1)!.id!;
    const again = await sessionOf({ ...auth, 'Last-Event-ID': lastId });
    // It never had the recovered state: it must not be told "nothing missed".
    expect(again.params).toMatchObject({ resumed: 'recovery' });
  }, 60_000);
});
