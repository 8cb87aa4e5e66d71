import path from 'node:path';
import { TokenService } from '@causeway/platform';
import {
  removeNamespaceData,
  serverAddress,
  startServiceProcess,
  testNamespace,
  type ServiceProcess,
} from '@causeway/testkit';

const ns = testNamespace('progressnotready');
const JWT_SECRET = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret: JWT_SECRET });

// The app answers HTTP as soon as it listens; its event store needs MongoDB open first. A read
// before then is a 503 the client retries, not a 500 (a fresh CI's first read met one).
describe('order-processor: progress reads while the event store cannot be used', () => {
  let service: ServiceProcess;

  beforeAll(async () => {
    service = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        REDIS_URL: serverAddress('redis'),
        KAFKA_BROKERS: serverAddress('kafka'),
        // Nothing listens on port 1: MongoDB stays unreachable for the whole test.
        MONGODB_URI: 'mongodb://127.0.0.1:1/causeway',
        MONGODB_TIMEOUT_MS: '1000',
        ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
        JWT_SECRET,
        TOPIC_PREFIX: `${ns.id}.`,
      },
    });
  }, 90_000);

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await removeNamespaceData(ns, ['redis', 'kafka']);
  }, 60_000);

  it('answers 503 not-ready with Retry-After, naming the store, to status, history and user reads', async () => {
    const ash = (await tokens.issue('ash')).token;
    for (const route of ['status/t-1', 'history/t-1', 'user/ash']) {
      const response = await fetch(`${service.url}/api/v2/progress/${route}`, {
        headers: { Authorization: `Bearer ${ash}` },
      });
      expect({ route, status: response.status }).toEqual({ route, status: 503 });
      expect(response.headers.get('retry-after')).toBe('1');
      expect(await response.json()).toMatchObject({
        type: 'https://causeway.dev/problems/not-ready',
        detail: expect.stringContaining('progress store'),
      });
    }
  }, 60_000);
});
