import path from 'node:path';
import { TokenService } from '@causeway/platform';
import {
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import Redis from 'ioredis';

// JWT_PREVIOUS_SECRETS on the BUILT gateway against real Redis: during a rotation a stream
// opens with a token of the previous secret as with one of the new; any other is refused.
const ns = testNamespace('sserot');
const appDir = path.join(__dirname, '..');
const oldSecret = `jwt-old-${ns.id}-0123456789-0123456789`;
const newSecret = `jwt-new-${ns.id}-0123456789-0123456789`;
let gateway: ServiceProcess;

beforeAll(async () => {
  gateway = await startServiceProcess({
    appDir,
    env: {
      REDIS_URL: ns.redisUrl,
      ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
      JWT_SECRET: newSecret,
      JWT_PREVIOUS_SECRETS: oldSecret,
      TOPIC_PREFIX: ns.id,
      INSTANCE_ID: 'gw-rot',
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

/** The status `GET /events` answers with `secret`'s token for ash (the stream is then closed). */
async function open(secret: string): Promise<number> {
  const { token } = await new TokenService({ secret }).issue('ash');
  const abort = new AbortController();
  const response = await fetch(`${gateway.url}/events`, {
    headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
    signal: abort.signal,
  });
  abort.abort();
  return response.status;
}

describe('sse-gateway: rotating JWT_SECRET', () => {
  it('opens streams with tokens of the current and the previous secret, no other', async () => {
    expect(await open(newSecret)).toBe(200);
    expect(await open(oldSecret)).toBe(200);
    expect(await open(`jwt-other-${ns.id}-0123456789-0123456789`)).toBe(401);
  });
});
