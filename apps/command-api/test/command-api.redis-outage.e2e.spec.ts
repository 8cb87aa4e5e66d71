import path from 'node:path';
import Redis from 'ioredis';
import { TokenService } from '@causeway/platform';
import {
  freePort,
  RedisServerProcess,
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';

// The BUILT command-api against a redis-server of the test's own, stopped while moves are
// sent: every move answers 503, and what the 503 says is true — "nothing was sent" means the
// command never reaches the command streams, also not after Redis is back (ioredis would write
// commands still queued from the outage when it reconnects, and a client retrying as told
// would move twice).
const appDir = path.join(__dirname, '..');
const ns = testNamespace('capioutage');
const secret = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret });

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe('command-api while its Redis is down', () => {
  let redis: RedisServerProcess;
  let admin: Redis;
  let api: ServiceProcess;

  beforeAll(async () => {
    redis = new RedisServerProcess(await freePort());
    await redis.start();
    admin = new Redis(redis.url);
    api = await startServiceProcess({
      appDir,
      env: {
        REDIS_URL: redis.url,
        KAFKA_BROKERS: serverAddress('kafka'),
        ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
        JWT_SECRET: secret,
        TOPIC_PREFIX: ns.id,
        RATE_LIMIT_POINTS: '10000',
        REDIS_COMMAND_TIMEOUT_MS: '300',
      },
    });
    await waitForStatus(`${api.url}/health/ready`, 200);
  });

  afterAll(async () => {
    await api?.stop('SIGKILL');
    admin?.disconnect();
    await redis?.remove();
  });

  async function moveOf(
    trainerId: string,
    token: string,
    idempotencyKey?: string,
    body: unknown = { directionX: 1, directionY: 0, action: 'start' },
  ): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${api.url}/api/trainers/${trainerId}/move`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        ...(idempotencyKey && { 'Idempotency-Key': idempotencyKey }),
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /** Every entry of every stream in the test's Redis, as text (its field values joined). */
  async function streamEntries(): Promise<string[]> {
    const entries: string[] = [];
    for (const key of await admin.keys('*')) {
      if ((await admin.type(key)) !== 'stream') continue;
      for (const [, fields] of await admin.xrange(key, '-', '+')) entries.push(fields.join('\n'));
    }
    return entries;
  }

  it('answers 503 "nothing was sent" only for moves that are then never executed', async () => {
    const trainers = Array.from({ length: 12 }, (_, i) => `${ns.id}-trainer-${i}`);
    const token = (
      await tokens.issue(`${ns.id}-user`, { trainerIds: [...trainers, `${ns.id}-after`] })
    ).token;
    const logged = api.stdoutLines().length;
    await redis.stop('SIGKILL');
    const answers: { status: number; body: Json }[] = [];
    // About 5 s of outage, moves spread over it (the connection's reconnect backoff grows).
    for (const trainerId of trainers) {
      answers.push(await moveOf(trainerId, token));
      await delay(350);
    }
    await redis.start();
    await waitForStatus(`${api.url}/health/ready`, 200);
    // A move after the outage is sent (and proves a sent command is found below).
    const after = await moveOf(`${ns.id}-after`, token);
    expect(after.status).toBe(202);
    await delay(2_000); // anything queued from the outage would be written by now

    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({
        type: 'https://causeway.dev/problems/command-refused',
        status: 503,
      });
      expect(answer.body.detail).toMatch(/nothing was sent, retry later/);
    }
    const entries = await streamEntries();
    expect(entries.filter((entry) => entry.includes(after.body.commandId))).toHaveLength(1);
    const executedLate = trainers.filter((trainerId) =>
      entries.some((entry) => entry.includes(`"${trainerId}"`)),
    );
    expect(executedLate).toEqual([]);

    // Logged as expected refusals: one warn line per refused move, without a stack, and the
    // rate limiter failing open said once for the whole outage (and once when it is back).
    const lines = api.stdoutLines().slice(logged);
    const records = lines.map((line) => JSON.parse(line) as Json);
    expect(lines.filter((line) => / at |CommandRefusedError/.test(line))).toEqual([]);
    expect(records.filter((record) => record.level >= 50)).toEqual([]);
    const refused = records.filter((record) =>
      /the bus refused MoveTrainerCommand/.test(record.msg),
    );
    expect(refused).toHaveLength(trainers.length);
    expect(refused.every((record) => record.level === 40)).toBe(true);
    const limiter = records.filter((record) => /^rate limiter/.test(record.msg));
    expect(limiter.map((record) => [record.level, record.msg])).toEqual([
      [40, expect.stringMatching(/^rate limiter unavailable, requests let through until/)],
      [30, expect.stringMatching(/^rate limiter available again after [\d.]+ s; 12 requests/)],
    ]);
  }, 60_000);

  it('answers a command status it cannot read 503 with Retry-After (REST) and -32005 (JSON-RPC), not 500', async () => {
    const userId = `${ns.id}-status-user`;
    const token = (await tokens.issue(userId)).token;
    const commandId = '3f0c5a8e-9d1b-4c5e-8a51-0e2f4b6c7d8e';
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    await redis.stop('SIGKILL');
    const rest = await fetch(`${api.url}/api/commands/${commandId}`, { headers });
    const rpc = await fetch(`${api.url}/rpc`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'command.status',
        params: { commandId },
      }),
    });
    await redis.start();
    await waitForStatus(`${api.url}/health/ready`, 200);
    expect(rest.status).toBe(503);
    expect(rest.headers.get('retry-after')).toBe('1');
    expect(await rest.json()).toMatchObject({
      type: 'https://causeway.dev/problems/status-unavailable',
      status: 503,
    });
    expect(await rpc.json()).toMatchObject({ id: 1, error: { code: -32005 } });
    // Once Redis is back the same read answers again (an unknown command: 404).
    const after = await fetch(`${api.url}/api/commands/${commandId}`, { headers });
    expect(after.status).toBe(404);
  }, 60_000);

  it('answers a move with an Idempotency-Key 503 too (its key unchecked, nothing sent), and its retry runs once', async () => {
    const trainerId = `${ns.id}-keyed`;
    const token = (await tokens.issue(`${ns.id}-keyed-user`, { trainerIds: [trainerId] })).token;
    await redis.stop('SIGKILL');
    const during = await moveOf(trainerId, token, 'keyed-1');
    // Bad input, or another user's trainer, is refused as such before the key is looked up.
    const invalid = await moveOf(trainerId, token, 'keyed-2', { directionX: 'x', action: 'go' });
    const foreign = await moveOf(`${ns.id}-someone-else`, token, 'keyed-3');
    await redis.start();
    await waitForStatus(`${api.url}/health/ready`, 200);
    // A 503 that names what is wrong, not a 500: the key's store did not answer.
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({
      type: 'https://causeway.dev/problems/idempotency-unavailable',
      status: 503,
    });
    expect(during.body.detail).toMatch(/nothing was sent, retry later with the same key/);
    expect(invalid.status).toBe(422);
    expect(invalid.body.errors.map((error: Json) => error.field).sort()).toEqual([
      'action',
      'directionX',
      'directionY',
    ]);
    expect(foreign.status).toBe(403);
    // The retry with the same key is accepted at once (the key was never taken) and sent once.
    const retry = await moveOf(trainerId, token, 'keyed-1');
    expect(retry.status).toBe(202);
    const again = await moveOf(trainerId, token, 'keyed-1');
    expect(again.status).toBe(202);
    expect(again.body.commandId).toBe(retry.body.commandId);
    await delay(500);
    const entries = await streamEntries();
    expect(entries.filter((entry) => entry.includes(`"${trainerId}"`))).toHaveLength(1);
  }, 60_000);

  it('frees a key whose check Redis ran only after answering too late: the retry is a new request', async () => {
    const trainerId = `${ns.id}-stalled`;
    const token = (await tokens.issue(`${ns.id}-stalled-user`, { trainerIds: [trainerId] })).token;
    // Redis stalls (a fork, a slow disk): commands wait, then run. The key's check times out
    // in command-api (REDIS_COMMAND_TIMEOUT_MS 300) but Redis runs it when the stall ends.
    await admin.client('PAUSE', 1_500, 'ALL');
    const during = await moveOf(trainerId, token, 'stalled-1');
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({
      type: 'https://causeway.dev/problems/idempotency-unavailable',
    });
    await delay(2_500); // the stall is over, the late check ran, and was undone
    const retriedAt = Date.now();
    const retry = await moveOf(trainerId, token, 'stalled-1');
    // Not a 409 "in flight" for 30 s, and not the first attempt's time (and deadline).
    expect(retry.status).toBe(202);
    expect(Date.parse(retry.body.timestamp)).toBeGreaterThanOrEqual(retriedAt - 5);
    const again = await moveOf(trainerId, token, 'stalled-1');
    expect(again).toMatchObject({ status: 202, body: { commandId: retry.body.commandId } });
  }, 60_000);
});
