import path from 'node:path';
import {
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import { TokenService } from '@causeway/platform';

// Orders travel on Kafka (ADR 015): a Kafka outage makes command-api unready (a readiness-gated
// load balancer sends orders elsewhere) and an order placed meanwhile is a 503 with Retry-After.
const ns = testNamespace('capikafka');
const secret = `jwt-${ns.id}-0123456789-0123456789`;

describe('command-api while Kafka is unreachable', () => {
  let api: ServiceProcess;

  beforeAll(async () => {
    api = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        REDIS_URL: serverAddress('redis'),
        KAFKA_BROKERS: '127.0.0.1:1',
        ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
        JWT_SECRET: secret,
        TOPIC_PREFIX: ns.id,
        ORDER_PUBLISH_TIMEOUT_MS: '1000',
      },
    });
  });
  afterAll(() => api?.stop('SIGKILL'));

  it('is not ready, and reports Kafka down as a critical probe in /health', async () => {
    await waitForStatus(`${api.url}/health/live`, 200, 30_000);
    let kafka: { healthy: boolean; critical: boolean } | undefined;
    for (const deadline = Date.now() + 20_000; !kafka && Date.now() < deadline;) {
      const health = (await (await fetch(`${api.url}/health`)).json()) as {
        probes: Record<string, { healthy: boolean; critical: boolean }>;
      };
      if (health.probes.kafka) kafka = health.probes.kafka;
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(kafka).toMatchObject({ healthy: false });
    expect(kafka?.critical).not.toBe(false);
    expect((await fetch(`${api.url}/health/ready`)).status).toBe(503);
  }, 60_000);

  it('answers an order with 503 and Retry-After', async () => {
    const { token } = await new TokenService({ secret }).issue('ash', { trainerIds: [] });
    const response = await fetch(`${api.url}/api/v2/progress/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ items: [{ sku: 'potion', quantity: 1 }] }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    const problem = (await response.json()) as { type: string; taskId: string };
    expect(problem.type).toMatch(/order-unconfirmed$/);
    expect(problem.taskId).toMatch(/^[0-9a-f-]{36}$/);
  }, 30_000);
});
