import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { removeNamespaceData, serverAddress, testNamespace, withDatabase } from '@causeway/testkit';
import { launchSystem, planInstances, stopSystem, type RunningInstance } from '../src';

// What the README's start command does: the five apps as real processes on the real servers,
// each /health/ready answering 200, and all of them gone after stop.
describe('the reference system', () => {
  const ns = testNamespace('system');
  let running: RunningInstance[] = [];

  afterAll(async () => {
    await stopSystem(running, 2_000);
    await removeNamespaceData(ns);
  }, 60_000);

  it('starts the five apps (two gateways, two trainer services) and each is ready', async () => {
    const instances = planInstances(
      {
        REDIS_URL: serverAddress('redis'),
        KAFKA_BROKERS: serverAddress('kafka'),
        MONGODB_URI: withDatabase(serverAddress('mongodb'), ns.database),
      },
      {
        scale: { 'sse-gateway': 2, 'trainer-service': 2 },
        // Ports 23 000–27 913: below Linux's ephemeral range (32 768+) and clear of
        // live-flow.e2e.spec.ts's 28 000–32 013.
        portOffset: 20_000 + Math.floor(Math.random() * 4_900),
        adminToken: `system-${ns.id}-admin-token`,
        jwtSecret: `system-${ns.id}-jwt-secret-0123456789abcdef`,
        logLevel: 'warn',
      },
    );
    for (const instance of instances) instance.env.TOPIC_PREFIX = ns.id;
    const logDir = mkdtempSync(path.join(tmpdir(), 'causeway-system-'));
    running = await launchSystem(instances, {
      root: path.resolve(__dirname, '..', '..', '..'),
      logDir,
    });

    expect(running.map((i) => i.instanceId).sort()).toEqual([
      'command-api-1',
      'order-processor-1',
      'projection-worker-1',
      'sse-gateway-1',
      'sse-gateway-2',
      'trainer-service-1',
      'trainer-service-2',
    ]);
    for (const instance of running) {
      const response = await fetch(`${instance.url}/health/ready`);
      expect(response.status).toBe(200);
    }

    await stopSystem(running);
    for (const instance of running) {
      expect(instance.child.exitCode).toBe(0);
      await expect(fetch(`${instance.url}/health/live`)).rejects.toThrow();
    }
  });
});
