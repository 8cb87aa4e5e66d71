import path from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  contractsSerializer,
  ORDER_PLACED,
  type OrderPlaced,
  type ProgressEvent,
  type ProgressStatus,
} from '@causeway/contracts';
import { createMessage } from '@causeway/cqrs-core';
import { kafkaConnection, KafkaPublisher } from '@causeway/cqrs-core/kafka';
import { RedisNotificationLog, TokenService } from '@causeway/platform';
import {
  removeNamespaceData,
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import Redis from 'ioredis';
import { z } from 'zod';

const ns = testNamespace('orderflow');
const TOPIC_PREFIX = `${ns.id}.`;
const JWT_SECRET = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret: JWT_SECRET });

// The OpenAPI document is read as loosely typed JSON: the assertions are the schema.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe('order-processor: an order over real Kafka, FerretDB and Redis (ADR 015)', () => {
  let service: ServiceProcess;
  let redis: Redis;
  let log: RedisNotificationLog;
  const kafka = kafkaConnection({ brokers: ns.kafkaBrokers, clientId: `test-${ns.id}` });
  let publisher: KafkaPublisher;
  let ash: string;

  beforeAll(async () => {
    service = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        REDIS_URL: serverAddress('redis'),
        KAFKA_BROKERS: serverAddress('kafka'),
        MONGODB_URI: ns.mongoUri(),
        ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
        JWT_SECRET,
        TOPIC_PREFIX,
        INSTANCE_ID: 'order-processor-e1',
        ORDER_STEP_DELAY_MS: '0',
        ORDER_CATALOG: JSON.stringify({ tea: { stock: 5, priceCents: 300 } }),
        PAYMENT_LIMIT_CENTS: '10000',
      },
    });
    // Ready = the stores answer and the order group has joined (Kafka is critical here).
    await waitForStatus(`${service.url}/health/ready`, 200, 60_000);
    redis = new Redis(serverAddress('redis'));
    log = new RedisNotificationLog({ client: redis, keyPrefix: `${TOPIC_PREFIX}:` });
    await kafka.open();
    publisher = new KafkaPublisher(kafka.client, { serializer: contractsSerializer() });
    ash = (await tokens.issue('ash')).token;
  }, 90_000);

  afterAll(async () => {
    await publisher?.close();
    await kafka.close();
    await service?.stop('SIGTERM');
    redis?.disconnect();
    await removeNamespaceData(ns, ['mongodb', 'redis', 'kafka']);
  }, 60_000);

  const get = (url: string, token = ash) =>
    fetch(`${service.url}/api/v2/progress/${url}`, {
      headers: { Authorization: `Bearer ${token}` },
    });

  async function place(order: OrderPlaced): Promise<void> {
    await publisher.publish(`${TOPIC_PREFIX}order-events-v2`, [
      createMessage({
        type: ORDER_PLACED,
        data: order,
        category: 'event',
        aggregateId: order.taskId,
        causedBy: null,
      }),
    ]);
  }

  function order(items: OrderPlaced['items'], userId = 'ash'): OrderPlaced {
    return { taskId: randomUUID(), userId, items, placedAt: new Date().toISOString() };
  }

  async function finished(taskId: string): Promise<ProgressStatus> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const response = await get(`status/${taskId}`);
      if (response.status === 200) {
        const status = (await response.json()) as ProgressStatus;
        if (status.status === 'COMPLETED' || status.status === 'FAILED') return status;
      }
      if (Date.now() > deadline) throw new Error(`task ${taskId} did not finish`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function notified(taskId: string): Promise<ProgressEvent[]> {
    return (await log.read(undefined, 10_000))
      .map((entry) => entry.notification)
      .filter((n) => n.method === 'progress.update' && n.params.taskId === taskId)
      .map((n) => {
        expect(n).toMatchObject({ targetType: 'user', targetIds: ['ash'] });
        return n.params as unknown as ProgressEvent;
      });
  }

  async function consumed(): Promise<number> {
    const response = await get('monitor');
    return ((await response.json()) as { ordersConsumed: number }).ordersConsumed;
  }

  it('runs an order to COMPLETED 100 %: five events stored in order, five notifications, REST reads', async () => {
    const placed = order([{ sku: 'tea', quantity: 2 }]);
    await place(placed);
    const status = await finished(placed.taskId);
    expect(status).toMatchObject({
      taskId: placed.taskId,
      userId: 'ash',
      status: 'COMPLETED',
      percentage: 100,
      currentStep: 4,
      totalSteps: 4,
      stepName: 'complete',
      eventCount: 5,
    });
    expect(Date.parse(status.startedAt)).toBeLessThanOrEqual(Date.parse(status.updatedAt));
    const history = (await (await get(`history/${placed.taskId}`)).json()) as {
      events: ProgressEvent[];
    };
    expect(history.events.map((e) => [e.eventType, e.percentage, e.stepName])).toEqual([
      ['STARTED', 0, 'started'],
      ['PROGRESS', 25, 'validate order'],
      ['PROGRESS', 50, 'check stock'],
      ['PROGRESS', 75, 'process payment'],
      ['COMPLETED', 100, 'complete'],
    ]);
    expect(await notified(placed.taskId)).toEqual(history.events);
    const mine = (await (await get('user/ash')).json()) as {
      tasks: { taskId: string; events: ProgressEvent[] }[];
    };
    expect(mine.tasks.find((task) => task.taskId === placed.taskId)?.events).toHaveLength(5);
  });

  it('ends a failing order FAILED with its reason', async () => {
    const placed = order([{ sku: 'tea', quantity: 6 }]);
    await place(placed);
    expect(await finished(placed.taskId)).toMatchObject({
      status: 'FAILED',
      stepName: 'check stock',
      percentage: 25,
      reason: 'not enough stock of tea: 6 ordered, 5 in stock',
      eventCount: 3,
    });
    expect((await notified(placed.taskId)).map((e) => e.eventType)).toEqual([
      'STARTED',
      'PROGRESS',
      'FAILED',
    ]);
  });

  it('stores and notifies nothing twice when the same order is published twice', async () => {
    const placed = order([{ sku: 'tea', quantity: 1 }]);
    const before = await consumed();
    await place(placed);
    await place(placed);
    // Both deliveries handled (the monitor counts handled deliveries).
    const deadline = Date.now() + 30_000;
    while ((await consumed()) < before + 2) {
      if (Date.now() > deadline) throw new Error('the second delivery was not handled');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const history = (await (await get(`history/${placed.taskId}`)).json()) as {
      events: ProgressEvent[];
    };
    expect(history.events.map((e) => e.eventId)).toEqual([
      `${placed.taskId}:0:STARTED`,
      `${placed.taskId}:1:PROGRESS`,
      `${placed.taskId}:2:PROGRESS`,
      `${placed.taskId}:3:PROGRESS`,
      `${placed.taskId}:4:COMPLETED`,
    ]);
    expect(await notified(placed.taskId)).toHaveLength(5);
  });

  it("answers 404 for another user's task, 403 for another user's list, 401 without a token", async () => {
    const placed = order([{ sku: 'tea', quantity: 1 }]);
    await place(placed);
    await finished(placed.taskId);
    const misty = (await tokens.issue('misty')).token;
    const theirs = await get(`status/${placed.taskId}`, misty);
    expect(theirs.status).toBe(404);
    expect(theirs.headers.get('content-type')).toContain('application/problem+json');
    expect((await get(`history/${placed.taskId}`, misty)).status).toBe(404);
    expect((await get(`status/${randomUUID()}`)).status).toBe(404);
    const forbidden = await get('user/ash', misty);
    expect(forbidden.status).toBe(403);
    const anonymous = await fetch(`${service.url}/api/v2/progress/status/${placed.taskId}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('reports the system at /monitor: orders by outcome, lag, instance', async () => {
    const monitor = (await (await get('monitor')).json()) as Record<string, unknown>;
    expect(monitor).toMatchObject({
      instanceId: 'order-processor-e1',
      topic: `${TOPIC_PREFIX}order-events-v2`,
      ordersFailed: 1,
      tasksByStatus: { running: 0, failed: 1 },
    });
    expect(monitor.ordersCompleted).toBeGreaterThanOrEqual(3);
    expect(typeof monitor.consumerLag).toBe('number');
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/causeway_order_steps_total\{[^}]*type="COMPLETED"[^}]*\} [1-9]/);
  });
  it('documents the progress reads at /docs-json as they answer (OpenAPI 3.1), like the other apps', async () => {
    const response = await fetch(`${service.url}/docs-json`);
    expect(response.status).toBe(200);
    const docs = (await response.json()) as Json;
    expect(docs.openapi).toBe('3.1.0');
    expect(Object.keys(docs.paths as Json).sort()).toEqual([
      '/api/v2/progress/history/{taskId}',
      '/api/v2/progress/monitor',
      '/api/v2/progress/status/{taskId}',
      '/api/v2/progress/user/{userId}',
    ]);
    expect((await fetch(`${service.url}/docs-yaml`)).status).toBe(200);

    // Every answer validates against the schema documented for its route and status.
    const local = (value: Json) =>
      JSON.parse(JSON.stringify(value).split('#/components/schemas/').join('#/$defs/')) as Json;
    const expectDocumented = async (route: string, url: string, token = ash) => {
      const answer = await get(url, token);
      const documented = docs.paths[route].get.responses[String(answer.status)];
      expect({ url, status: answer.status, documented: documented !== undefined }).toEqual({
        url,
        status: answer.status,
        documented: true,
      });
      const [mediaType, { schema }] = Object.entries(documented.content as Json)[0] as [
        string,
        Json,
      ];
      expect(answer.headers.get('content-type')).toContain(mediaType);
      const result = z
        .fromJSONSchema({ ...local(schema), $defs: local(docs.components.schemas) })
        .safeParse(await answer.json());
      expect({ url, issues: result.error?.issues ?? [] }).toEqual({ url, issues: [] });
    };
    const placed = order([{ sku: 'tea', quantity: 1 }]);
    await place(placed);
    await finished(placed.taskId);
    await expectDocumented('/api/v2/progress/status/{taskId}', `status/${placed.taskId}`);
    await expectDocumented('/api/v2/progress/history/{taskId}', `history/${placed.taskId}`);
    await expectDocumented('/api/v2/progress/status/{taskId}', `status/${randomUUID()}`);
    await expectDocumented('/api/v2/progress/user/{userId}', 'user/ash');
    await expectDocumented('/api/v2/progress/user/{userId}', 'user/misty');
    await expectDocumented('/api/v2/progress/monitor', 'monitor');
    await expectDocumented('/api/v2/progress/monitor', 'monitor', 'not-a-token');
  });
});
