import path from 'node:path';
import { TokenService } from '@causeway/platform';
import {
  removeNamespaceData,
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
  type TestNamespace,
} from '@causeway/testkit';

export interface OrderProcessorUnderTest {
  ns: TestNamespace;
  /** Issues tokens the app accepts (its JWT_SECRET). */
  tokens: TokenService;
  /** The app's base URL (once beforeAll started it). */
  url(): string;
  /** Its ADMIN_TOKEN (/admin/dead-letters). */
  adminToken: string;
  /**
   * GET /api/v2/progress/<url>, with the bearer token when one is given; `init` for another
   * method or more headers (an Origin).
   */
  read(
    url: string,
    token?: string,
    init?: { method?: string; headers?: Record<string, string> },
  ): Promise<Response>;
}

/**
 * The built order-processor for one describe block, on the real servers: started in beforeAll
 * with its own namespace (TOPIC_PREFIX, secrets), the real servers' addresses and MongoDB
 * database, and `env` over them; stopped in afterAll, the namespace's data then removed. The
 * start-up every e2e file of the app shares, so each says only what it changes.
 *
 * The tests start once /health/ready answers 200 (at most a minute; else beforeAll fails naming
 * the checks not up): a read while the event store was still opening was a 503 `not-ready` on a
 * loaded machine. `waitFor: 'live'` starts them as soon as it answers HTTP, for a test of an
 * app that is not ready.
 */
export function useOrderProcessor(
  label: string,
  env: (ns: TestNamespace) => Record<string, string> = () => ({}),
  { waitFor = 'ready' }: { waitFor?: 'ready' | 'live' } = {},
): OrderProcessorUnderTest {
  const ns = testNamespace(label);
  const JWT_SECRET = `jwt-${ns.id}-0123456789-0123456789`;
  const tokens = new TokenService({ secret: JWT_SECRET });
  const adminToken = `admin-${ns.id}-0123456789`;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    service = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        REDIS_URL: serverAddress('redis'),
        KAFKA_BROKERS: serverAddress('kafka'),
        MONGODB_URI: ns.mongoUri(),
        ADMIN_TOKEN: adminToken,
        JWT_SECRET,
        TOPIC_PREFIX: `${ns.id}.`,
        ...env(ns),
      },
      waitFor,
      timeoutMs: 60_000,
    });
  }, 90_000);

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await removeNamespaceData(ns, ['mongodb', 'redis', 'kafka']);
  }, 60_000);

  return {
    ns,
    tokens,
    adminToken,
    url: () => service!.url,
    // Called in tests only, once beforeAll started the service.
    read: (url, token, init = {}) =>
      fetch(`${service!.url}/api/v2/progress/${url}`, {
        method: init.method ?? 'GET',
        headers: { ...(token && { Authorization: `Bearer ${token}` }), ...init.headers },
      }),
  };
}

/**
 * One more instance of the built order-processor on `ns` (for a test that kills, stops and
 * restarts instances itself): the namespace's secrets and TOPIC_PREFIX, a 6 s group session (the
 * broker's least, so a dead instance's partitions move on soon), a tea catalogue the orders buy
 * from, and `env` over them. Resolves once /health/ready answers 200.
 */
export async function startOrderInstance(
  ns: TestNamespace,
  instance: string,
  env: Record<string, string> = {},
): Promise<ServiceProcess> {
  const started = await startServiceProcess({
    appDir: path.join(__dirname, '..'),
    env: {
      REDIS_URL: serverAddress('redis'),
      KAFKA_BROKERS: serverAddress('kafka'),
      MONGODB_URI: ns.mongoUri(),
      ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
      JWT_SECRET: `jwt-${ns.id}-0123456789-0123456789`,
      TOPIC_PREFIX: `${ns.id}.`,
      INSTANCE_ID: instance,
      ORDER_CONSUMER_SESSION_TIMEOUT_MS: '6000',
      ORDER_CATALOG: JSON.stringify({ tea: { stock: 5, priceCents: 300 } }),
      PAYMENT_LIMIT_CENTS: '10000',
      ...env,
    },
  });
  await waitForStatus(`${started.url}/health/ready`, 200, 40_000);
  return started;
}
