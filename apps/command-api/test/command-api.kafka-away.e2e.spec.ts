import path from 'node:path';
import {
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';

// Kafka carries none of command-api's traffic yet: a Kafka outage shows in /health but must
// not make command-api unready (a readiness-gated load balancer would take the command path
// out of service although commands travel on Redis).
const ns = testNamespace('capikafka');

describe('command-api while Kafka is unreachable', () => {
  let api: ServiceProcess;

  beforeAll(async () => {
    api = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        REDIS_URL: serverAddress('redis'),
        KAFKA_BROKERS: '127.0.0.1:1',
        ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
        JWT_SECRET: `jwt-${ns.id}-0123456789-0123456789`,
        TOPIC_PREFIX: ns.id,
      },
    });
  });
  afterAll(() => api?.stop('SIGKILL'));

  it('is ready, and reports Kafka down as a non-critical probe in /health', async () => {
    await waitForStatus(`${api.url}/health/ready`, 200, 30_000);
    let kafka: { healthy: boolean; critical: boolean } | undefined;
    for (const deadline = Date.now() + 20_000; !kafka && Date.now() < deadline;) {
      const health = (await (await fetch(`${api.url}/health`)).json()) as {
        status: string;
        probes: Record<string, { healthy: boolean; critical: boolean }>;
      };
      if (health.probes.kafka) kafka = health.probes.kafka;
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(kafka).toMatchObject({ healthy: false, critical: false });
    const health = (await (await fetch(`${api.url}/health`)).json()) as { status: string };
    expect(health.status).toBe('degraded');
  }, 60_000);
});
