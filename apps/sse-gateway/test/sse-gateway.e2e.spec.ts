import path from 'node:path';
import {
  describeServiceBasics,
  freePort,
  RedisServerProcess,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import { TokenService } from '@causeway/platform';
import Redis from 'ioredis';
import mongoose from 'mongoose';

const appDir = path.join(__dirname, '..');

// With the default READ_MODEL_STORE (redis) the gateway uses Redis only: no MONGODB_URI here.
describeServiceBasics({
  service: 'sse-gateway',
  appDir,
  servers: ['redis'],
  checks: ['gateway-control', 'token-revocations', 'clock', 'sse-hub'],
});

describe('sse-gateway and MongoDB', () => {
  const ns = testNamespace('ssemongo');
  const env = (extra: Record<string, string | undefined> = {}) => ({
    REDIS_URL: ns.redisUrl,
    ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
    JWT_SECRET: `jwt-${ns.id}-0123456789-0123456789`,
    TOPIC_PREFIX: ns.id,
    ...extra,
  });
  const started: ServiceProcess[] = [];
  async function start(extra: Record<string, string | undefined> = {}) {
    const gateway = await startServiceProcess({ appDir, env: env(extra) });
    started.push(gateway);
    return gateway;
  }
  async function ready(gateway: ServiceProcess) {
    const response = await waitForStatus(`${gateway.url}/health/ready`, 200);
    return (await response.json()) as { info: Record<string, { status: string }> };
  }

  afterAll(async () => {
    await Promise.all(started.map((gateway) => gateway.stop('SIGKILL')));
    const redis = new Redis(ns.redisUrl);
    try {
      for await (const keys of redis.scanStream({ match: `${ns.id}:*`, count: 1_000 }))
        if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]));
    } finally {
      redis.disconnect();
    }
    // Only connecting never creates a database; drop it in case a read did.
    const mongo = await mongoose.createConnection(ns.mongoUri()).asPromise();
    await mongo.dropDatabase();
    await mongo.close();
  });

  it('starts and is ready with no MONGODB_URI at all (READ_MODEL_STORE unset: redis)', async () => {
    const gateway = await start();
    expect(Object.keys((await ready(gateway)).info).sort()).toEqual([
      'bus',
      'clock',
      'gateway-control',
      'redis',
      'redis-streams',
      'sse-hub',
      'streams-layout',
      'token-revocations',
    ]);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).not.toMatch(/causeway_connection_up\{[^}]*server="mongodb"/);
  });

  it('with READ_MODEL_STORE=redis neither opens nor checks a MONGODB_URI that is set anyway', async () => {
    const gateway = await start({
      READ_MODEL_STORE: 'redis',
      MONGODB_URI: 'mongodb://127.0.0.1:1/unreachable',
    });
    expect(Object.keys((await ready(gateway)).info).sort()).toEqual([
      'bus',
      'clock',
      'gateway-control',
      'redis',
      'redis-streams',
      'sse-hub',
      'streams-layout',
      'token-revocations',
    ]);
  });

  it('with READ_MODEL_STORE=mongodb refuses to start without MONGODB_URI, naming it', async () => {
    const refused = await startServiceProcess({
      appDir,
      env: env({ READ_MODEL_STORE: 'mongodb' }),
      waitFor: 'spawn',
    });
    expect(await refused.exited).toBe(1);
    const entry = JSON.parse(refused.stderr().trim().split('\n').pop() ?? '{}') as {
      level: number;
      msg: string;
      issues: { setting: string }[];
    };
    expect(entry.level).toBe(60); // pino's fatal
    expect(entry.msg).toContain('MONGODB_URI: is required when READ_MODEL_STORE=mongodb');
    expect(entry.issues.map((issue) => issue.setting)).toEqual(['MONGODB_URI']);
  });

  it('with READ_MODEL_STORE=mongodb is ready only while MongoDB answers', async () => {
    const gateway = await start({ READ_MODEL_STORE: 'mongodb', MONGODB_URI: ns.mongoUri() });
    const body = await ready(gateway);
    expect(Object.keys(body.info).sort()).toEqual([
      'bus',
      'clock',
      'gateway-control',
      'mongodb',
      'redis',
      'redis-streams',
      'sse-hub',
      'streams-layout',
      'token-revocations',
    ]);
    expect(body.info.mongodb?.status).toBe('up');

    const broken = await start({
      READ_MODEL_STORE: 'mongodb',
      MONGODB_URI: 'mongodb://127.0.0.1:1/unreachable',
      MONGODB_TIMEOUT_MS: '500',
    });
    const response = await waitForStatus(`${broken.url}/health/ready`, 503);
    const answer = (await response.json()) as { error: Record<string, { status: string }> };
    expect(answer.error.mongodb?.status).toBe('down');

    // Reads of its read models are 503 with Retry-After (temporary), not 500.
    const tokens = new TokenService({ secret: env().JWT_SECRET });
    const bearer = `Bearer ${(await tokens.issue('ash')).token}`;
    for (const path of ['/api/positions', '/api/presence']) {
      const read = await fetch(`${broken.url}${path}`, { headers: { Authorization: bearer } });
      expect({ path, status: read.status, retryAfter: read.headers.get('retry-after') }).toEqual({
        path,
        status: 503,
        retryAfter: '5',
      });
      expect(await read.json()).toMatchObject({
        type: 'https://causeway.dev/problems/read-unavailable',
        status: 503,
      });
    }
  });
});

describe('sse-gateway answers', () => {
  const ns = testNamespace('ssecontrol');
  const admin = `admin-${ns.id}-0123456789`;
  const secret = `jwt-${ns.id}-0123456789-0123456789`;
  let redis: RedisServerProcess;
  let gateway: ServiceProcess;

  beforeAll(async () => {
    redis = new RedisServerProcess(await freePort());
    await redis.start();
    // Revocations an earlier release kept for ever: one two days old (every token it revoked
    // has expired), one fresh.
    const seed = new Redis(redis.url);
    await seed.hset(`${ns.id}:auth:revoked`, {
      'stale-user': Date.now() - 2 * 86_400_000,
      'fresh-user': Date.now(),
    });
    seed.disconnect();
    gateway = await startServiceProcess({
      appDir,
      env: {
        REDIS_URL: redis.url,
        ADMIN_TOKEN: admin,
        JWT_SECRET: secret,
        TOPIC_PREFIX: ns.id,
        REDIS_COMMAND_TIMEOUT_MS: '300',
      },
    });
    await waitForStatus(`${gateway.url}/health/ready`, 200);
  });

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await redis?.remove();
  });

  it('an event stream with the X-Request-Id it was opened with, as every answer', async () => {
    const token = (await new TokenService({ secret }).issue('ash')).token;
    const aborted = new AbortController();
    const stream = await fetch(`${gateway.url}/events`, {
      headers: { Authorization: `Bearer ${token}`, 'X-Request-Id': 'probe-123' },
      signal: aborted.signal,
    });
    aborted.abort();
    expect(stream.status).toBe(200);
    expect(stream.headers.get('x-request-id')).toBe('probe-123');
    // The stream's one log line, when it ends, names the id the caller can quote.
    const deadline = Date.now() + 5_000;
    const logged = () => gateway.stdoutLines().some((line) => line.includes('(request probe-123)'));
    while (!logged() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(logged()).toBe(true);
  });

  it('401 for a token living longer than JWT_MAX_LIFETIME_S; revocations kept only while they refuse something', async () => {
    const tokens = new TokenService({ secret });
    const positions = async (token: string) =>
      fetch(`${gateway.url}/api/positions`, { headers: { Authorization: `Bearer ${token}` } });
    const day = await positions((await tokens.issue('ash', { ttlSeconds: 86_400 })).token);
    expect(day.status).toBe(200);
    const longer = await positions((await tokens.issue('ash', { ttlSeconds: 86_401 })).token);
    expect(longer.status).toBe(401);
    expect(((await longer.json()) as { detail: string }).detail).toBe(
      'bearer token: invalid token: lives 86401 s (exp - iat), longer than the 86400 s allowed (JWT_MAX_LIFETIME_S)',
    );
    // The fresh revocation still refuses; the stale one was dropped from Redis at start.
    const revoked = await positions((await tokens.issue('fresh-user')).token);
    expect(revoked.status).toBe(401);
    const client = new Redis(redis.url);
    try {
      expect(Object.keys(await client.hgetall(`${ns.id}:auth:revoked`))).toEqual(['fresh-user']);
    } finally {
      client.disconnect();
    }
  });

  it('a disconnect it cannot record or send, while Redis is down, with 503 and Retry-After, not 500', async () => {
    await redis.stop('SIGKILL');
    const answer = await fetch(`${gateway.url}/api/presence/ash/disconnect`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ revoke: true }),
    });
    await redis.start();
    await waitForStatus(`${gateway.url}/health/ready`, 200);
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('5');
    expect(await answer.json()).toMatchObject({
      type: 'https://causeway.dev/problems/control-unavailable',
      status: 503,
    });
  }, 60_000);
});
