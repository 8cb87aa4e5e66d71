import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { TokenService } from '@causeway/platform';
import {
  removeNamespaceData,
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';

// The BUILT command-api with IDEMPOTENCY_TTL_S=1 and a real trainer-service, on the real
// servers: what a user sees of a move sent under an Idempotency-Key that expired.
jest.setTimeout(120_000);

const appDir = path.join(__dirname, '..');
const trainerDir = path.join(__dirname, '..', '..', 'trainer-service');
const ns = testNamespace('capikeyexp');
const secret = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret });
const admin = `admin-${ns.id}-0123456789`;

let api: ServiceProcess;
let trainer: ServiceProcess;

beforeAll(async () => {
  const shared = {
    REDIS_URL: serverAddress('redis'),
    ADMIN_TOKEN: admin,
    JWT_SECRET: secret,
    TOPIC_PREFIX: ns.id,
  };
  [api, trainer] = await Promise.all([
    startServiceProcess({
      appDir,
      env: { ...shared, KAFKA_BROKERS: serverAddress('kafka'), IDEMPOTENCY_TTL_S: '1' },
    }),
    startServiceProcess({ appDir: trainerDir, env: { ...shared, MONGODB_URI: ns.mongoUri() } }),
  ]);
  await waitForStatus(`${api.url}/health/ready`, 200);
  await waitForStatus(`${trainer.url}/health/ready`, 200, 60_000);
});

afterAll(async () => {
  await api?.stop('SIGKILL');
  await trainer?.stop('SIGKILL');
  await removeNamespaceData(ns, ['redis', 'mongodb']);
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function post(url: string, token: string, body: unknown, headers = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Json,
  };
}

/** The command's status once it is no longer `accepted`, read as the operator. */
async function outcomeOf(commandId: string): Promise<Json> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const response = await fetch(`${api.url}/admin/commands/${commandId}`, {
      headers: { Authorization: `Bearer ${admin}` },
    });
    const body = (await response.json()) as Json;
    if (body.status !== 'accepted' || Date.now() > deadline) return body;
    await sleep(50);
  }
}

it('applies a move sent again under a key that expired (IDEMPOTENCY_TTL_S), as its 202 says, not dropped as done', async () => {
  const user = `expiry-${randomUUID().slice(0, 8)}`;
  const token = (await tokens.issue(user, { trainerIds: [] })).token;
  const url = `${api.url}/api/trainers/${user}/move`;
  const key = { 'Idempotency-Key': `move-${user}-1` };
  const start = { directionX: 1, directionY: 0, action: 'start' };
  const first = await post(url, token, start, key);
  expect((await outcomeOf(first.body.commandId)).status).toBe('processed');
  // The user stops (no key), and the key's answer expires.
  const stop = await post(url, token, { directionX: 0, directionY: 0, action: 'stop' });
  const stopped = await outcomeOf(stop.body.commandId);
  expect(stopped.status).toBe('processed');
  await sleep(2_500);
  // The same start under the same key: forgotten, answered 202 "accepted now", not a replay.
  const again = await post(url, token, start, key);
  expect({ status: again.status, replayed: again.headers.get('idempotent-replayed') }).toEqual({
    status: 202,
    replayed: null,
  });
  const outcome = await outcomeOf(again.body.commandId);
  expect({
    commandId: again.body.commandId === first.body.commandId ? 'the expired one' : 'new',
    status: outcome.status,
    appliedAfterTheStop: outcome.version > stopped.version,
  }).toEqual({ commandId: 'new', status: 'processed', appliedAfterTheStop: true });
});
