import path from 'node:path';
import Redis from 'ioredis';
import { TokenService } from '@causeway/platform';
import {
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';

// Rotating JWT_SECRET on the BUILT command-api against real Redis (docs/operations.md §4): with
// the old secret in JWT_PREVIOUS_SECRETS, tokens signed with it keep working beside the new
// secret's; a token of any other secret, or of the old one once it is dropped, is refused.
const appDir = path.join(__dirname, '..');
const ns = testNamespace('capirot');
const oldSecret = `jwt-old-${ns.id}-0123456789-0123456789`;
const newSecret = `jwt-new-${ns.id}-0123456789-0123456789`;
const baseEnv = {
  REDIS_URL: serverAddress('redis'),
  KAFKA_BROKERS: serverAddress('kafka'),
  ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
  TOPIC_PREFIX: ns.id,
  DEV_TOKENS: 'true',
};

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

async function move(api: ServiceProcess, token: string): Promise<number> {
  const response = await fetch(`${api.url}/api/trainers/ash/move`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ directionX: 1, directionY: 0, action: 'start' }),
  });
  await response.arrayBuffer();
  return response.status;
}

async function devToken(api: ServiceProcess): Promise<string> {
  const response = await fetch(`${api.url}/api/dev/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId: 'ash' }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { token: string }).token;
}

describe('command-api: rotating JWT_SECRET', () => {
  it('accepts the previous secret beside the new one, and only while it is listed', async () => {
    const before = (await new TokenService({ secret: oldSecret }).issue('ash')).token;
    const stranger = (
      await new TokenService({ secret: `jwt-other-${ns.id}-0123456789-012345` }).issue('ash')
    ).token;
    // Step 2 of the procedure: signs with the new secret, still verifies the old one.
    const rotating = await start({ JWT_SECRET: newSecret, JWT_PREVIOUS_SECRETS: oldSecret });
    expect(await move(rotating, before)).toBe(202);
    const issued = await devToken(rotating);
    expect(await move(rotating, issued)).toBe(202);
    expect(await move(rotating, stranger)).toBe(401);
    // An instance still on step 1 (old secret signing, the new one listed) takes the new tokens.
    const stepOne = await start({ JWT_SECRET: oldSecret, JWT_PREVIOUS_SECRETS: newSecret });
    expect(await move(stepOne, issued)).toBe(202);
    expect(await move(stepOne, before)).toBe(202);
    // Step 3: the old secret is forgotten; its tokens are refused, the new ones still pass.
    const rotated = await start({ JWT_SECRET: newSecret });
    expect(await move(rotated, before)).toBe(401);
    expect(await move(rotated, issued)).toBe(202);
  });
});
