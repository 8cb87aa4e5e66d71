import path from 'node:path';
import {
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import Redis from 'ioredis';

/**
 * Every endpoint of the gateway that takes ADMIN_TOKEN draws on one budget of wrong tokens per
 * client address (ADMIN_REFUSALS, 10 a minute, shared through Redis with every app). The
 * disconnect order and the presence of everyone counted wrong tokens only against
 * RATE_LIMIT_POINTS (100 a second by default): a guesser refused at /admin/* went on there
 * (a review, session 36).
 */
const ns = testNamespace('sseadmin');
const appDir = path.join(__dirname, '..');
let gateway: ServiceProcess;

beforeAll(async () => {
  gateway = await startServiceProcess({
    appDir,
    env: {
      REDIS_URL: ns.redisUrl,
      ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
      JWT_SECRET: `jwt-${ns.id}-0123456789-0123456789`,
      TOPIC_PREFIX: ns.id,
    },
  });
  await waitForStatus(`${gateway.url}/health/ready`, 200);
});

afterAll(async () => {
  await gateway?.stop('SIGKILL');
  const redis = new Redis(ns.redisUrl);
  const keys = await redis.keys(`${ns.id}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const guess = (i: number) => ({ Authorization: `Bearer guess-${i}-0123456789abcdef` });
const disconnect = (headers: Record<string, string>) =>
  fetch(`${gateway.url}/api/presence/someone/disconnect`, { method: 'POST', headers });
const presence = (headers: Record<string, string>) =>
  fetch(`${gateway.url}/api/presence`, { headers });

it('draws wrong admin tokens of the disconnect order, the presence and /admin/* from one budget', async () => {
  const answers: number[] = [];
  for (let i = 0; i < 11; i++) answers.push((await disconnect(guess(i))).status);
  expect(answers).toEqual([...Array<number>(10).fill(401), 429]);
  // The same address, spent: every admin-token endpoint refuses its next guess at once.
  const refused = await presence(guess(11));
  expect(refused.status).toBe(429);
  expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
  expect(
    (await fetch(`${gateway.url}/admin/dead-letters/stats`, { headers: guess(12) })).status,
  ).toBe(429);
  // A token that is a JWT, expired or forged, is a user's problem, not a guess: 401.
  expect((await presence({ Authorization: 'Bearer aGVhZA.cGF5bG9hZA.c2ln' })).status).toBe(401);
});
