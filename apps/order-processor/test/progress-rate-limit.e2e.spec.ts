import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { TokenService } from '@causeway/platform';
import {
  removeNamespaceData,
  serverAddress,
  startServiceProcess,
  testNamespace,
  type ServiceProcess,
} from '@causeway/testkit';

const ns = testNamespace('progresslimit');
const JWT_SECRET = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret: JWT_SECRET });

describe('order-processor: the progress reads are rate limited per caller (RATE_LIMIT_POINTS)', () => {
  let service: ServiceProcess;

  beforeAll(async () => {
    service = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        REDIS_URL: serverAddress('redis'),
        KAFKA_BROKERS: serverAddress('kafka'),
        MONGODB_URI: ns.mongoUri(),
        ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
        JWT_SECRET,
        TOPIC_PREFIX: `${ns.id}.`,
        RATE_LIMIT_POINTS: '3',
        RATE_LIMIT_WINDOW_S: '60',
      },
    });
  }, 90_000);

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await removeNamespaceData(ns, ['mongodb', 'redis', 'kafka']);
  }, 60_000);

  const read = (url: string, token?: string) =>
    fetch(`${service.url}/api/v2/progress/${url}`, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });

  it('answers 429 with Retry-After once a user spent their points, across all four reads; another user keeps theirs', async () => {
    const ash = (await tokens.issue('ash')).token;
    expect((await read(`status/${randomUUID()}`, ash)).status).toBe(404);
    expect((await read(`history/${randomUUID()}`, ash)).status).toBe(404);
    expect((await read('user/ash', ash)).status).toBe(200);

    const limited = await read('monitor', ash);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toContain('application/problem+json');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await limited.json()).toMatchObject({
      type: 'https://causeway.dev/problems/rate-limited',
      status: 429,
    });

    const misty = (await tokens.issue('misty')).token;
    expect((await read('user/misty', misty)).status).toBe(200);
  });

  it('limits callers without a valid token by address: 429 before 401', async () => {
    // This test's client address has its own points (ash's are counted by user id).
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await read('monitor', 'not-a-token')).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});
