import path from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  acceptedProgressStatus,
  type OrderPlaced,
  type ProgressEvent,
  type ProgressStatus,
} from '@causeway/contracts';
import { type DeadLetter } from '@causeway/cqrs-core';
import { RedisProgressStatuses, RedisTokenRevocations, TokenService } from '@causeway/platform';
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
import { openOrderBusClient, type OrderBusClient } from './order-bus.client';

const ns = testNamespace('orderflow');
const TOPIC_PREFIX = `${ns.id}.`;
const JWT_SECRET = `jwt-${ns.id}-0123456789-0123456789`;
const ADMIN_TOKEN = `admin-${ns.id}-0123456789`;
const ORDER_TOPIC = `${TOPIC_PREFIX}order-events-v2`;
const tokens = new TokenService({ secret: JWT_SECRET });

// The OpenAPI document is read as loosely typed JSON: the assertions are the schema.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe('order-processor: an order over real Kafka, FerretDB and Redis (ADR 015)', () => {
  let service: ServiceProcess;
  let bus: OrderBusClient;
  let redis: Redis;
  /** The statuses command-api records an accepted order in (the app's keys). */
  let statuses: RedisProgressStatuses;
  let ash: string;

  beforeAll(async () => {
    service = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        REDIS_URL: serverAddress('redis'),
        KAFKA_BROKERS: serverAddress('kafka'),
        MONGODB_URI: ns.mongoUri(),
        ADMIN_TOKEN,
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
    bus = await openOrderBusClient(ns);
    ({ redis, statuses } = bus);
    ash = (await tokens.issue('ash')).token;
  }, 90_000);

  afterAll(async () => {
    await bus?.close();
    await service?.stop('SIGTERM');
    await removeNamespaceData(ns, ['mongodb', 'redis', 'kafka']);
  }, 60_000);

  const get = (url: string, token = ash) =>
    fetch(`${service.url}/api/v2/progress/${url}`, {
      headers: { Authorization: `Bearer ${token}` },
    });

  const place = (order: OrderPlaced) => bus.place(order);

  function order(items: OrderPlaced['items'], userId = 'ash'): OrderPlaced {
    return { taskId: randomUUID(), userId, items, placedAt: new Date().toISOString() };
  }

  async function finished(taskId: string, token = ash): Promise<ProgressStatus> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const response = await get(`status/${taskId}`, token);
      if (response.status === 200) {
        const status = (await response.json()) as ProgressStatus;
        if (status.status === 'COMPLETED' || status.status === 'FAILED') return status;
      }
      if (Date.now() > deadline) throw new Error(`task ${taskId} did not finish`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * The task's notifications once `count` are in the log (or after 10 s, as they are then): each
   * step is told right after its status is stored, so a finished status can show before the
   * last notification.
   */
  async function notified(taskId: string, count: number): Promise<ProgressEvent[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = await bus.notifications(taskId);
      if (found.length >= count || Date.now() > deadline)
        return found.map((n) => {
          expect(n).toMatchObject({ targetType: 'user', targetIds: ['ash'] });
          return n.params as unknown as ProgressEvent;
        });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
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
    expect(await notified(placed.taskId, history.events.length)).toEqual(history.events);
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
    expect((await notified(placed.taskId, 3)).map((e) => e.eventType)).toEqual([
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
    expect(await notified(placed.taskId, 5)).toHaveLength(5);
  });

  it('answers an accepted order not started yet as ACCEPTED at 0 %, never 404, then its steps', async () => {
    const placed = order([{ sku: 'tea', quantity: 1 }]);
    // What command-api records once Kafka acknowledged the order, before the consumer reads it.
    await statuses.apply(acceptedProgressStatus(placed));
    const status = await get(`status/${placed.taskId}`);
    expect(status.status).toBe(200);
    expect(await status.json()).toEqual({
      taskId: placed.taskId,
      userId: 'ash',
      currentStep: 0,
      totalSteps: 4,
      percentage: 0,
      stepName: 'accepted',
      status: 'ACCEPTED',
      startedAt: placed.placedAt,
      updatedAt: placed.placedAt,
      eventCount: 0,
    });
    expect(await (await get(`history/${placed.taskId}`)).json()).toEqual({
      taskId: placed.taskId,
      events: [],
    });
    const mine = (await (await get('user/ash')).json()) as { tasks: { taskId: string }[] };
    expect(mine.tasks).toContainEqual({
      taskId: placed.taskId,
      status: expect.objectContaining({ status: 'ACCEPTED' }),
      events: [],
    });
    const misty = (await tokens.issue('misty')).token;
    expect((await get(`status/${placed.taskId}`, misty)).status).toBe(404);
    await place(placed);
    expect(await finished(placed.taskId)).toMatchObject({ status: 'COMPLETED', eventCount: 5 });
  });

  it("pages through a user's tasks with ?limit= and the answer's next URL, each task once", async () => {
    const gary = (await tokens.issue('gary')).token;
    const at = Date.now() - 60_000;
    const placed = Array.from({ length: 5 }, (_, i) => ({
      ...order([{ sku: 'tea', quantity: 1 }], 'gary'),
      placedAt: new Date(at + i * 1_000).toISOString(),
    }));
    for (const task of placed) await statuses.apply(acceptedProgressStatus(task));
    const pages: string[][] = [];
    let url: string | undefined = 'user/gary?limit=2';
    while (url) {
      const response = await get(url, gary);
      expect(response.status).toBe(200);
      const page = (await response.json()) as { tasks: { taskId: string }[]; next?: string };
      pages.push(page.tasks.map((task) => task.taskId));
      url = page.next?.replace('/api/v2/progress/', '');
    }
    const newestFirst = placed.map((task) => task.taskId).reverse();
    expect(pages).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);
    // Without ?limit= the first 20: all five, and no next page.
    const all = (await (await get('user/gary', gary)).json()) as Record<string, unknown>;
    expect(all).toEqual({ userId: 'gary', tasks: expect.any(Array) });
    expect((all.tasks as unknown[]).length).toBe(5);
  });

  it.each([
    ['user/ash?limit=0', 'limit'],
    ['user/ash?limit=101', 'limit'],
    ['user/ash?limit=2&limit=3', 'limit'],
    ['user/ash?before=nope', 'before'],
    // It was named "" (a query parameter without a name: `?=1`).
    ['user/ash?=1', '(query parameter with an empty name)'],
  ])('refuses %s with 400 invalid-request naming %s', async (url, field) => {
    const response = await get(url);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(await response.json()).toMatchObject({
      type: 'https://causeway.dev/problems/invalid-request',
      errors: [{ field, message: expect.any(String) }],
    });
  });

  it.each([
    ['a NUL character', 'a%00b'],
    ['129 characters', 'x'.repeat(129)],
    ['2 000 characters', 'x'.repeat(2_000)],
  ])(
    'refuses a task id with %s with 400 invalid-request naming taskId, not a 500',
    async (_, taskId) => {
      for (const read of ['status', 'history']) {
        const response = await get(`${read}/${taskId}`);
        expect({ read, status: response.status }).toEqual({ read, status: 400 });
        expect(await response.json()).toMatchObject({
          type: 'https://causeway.dev/problems/invalid-request',
          errors: [{ field: 'taskId', message: expect.any(String) }],
        });
      }
      // The longest task id an order may have is still a task id: unknown, so 404.
      expect((await get(`status/${'x'.repeat(128)}`)).status).toBe(404);
    },
  );

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

  it('refuses every read with a revoked token, as command-api and the gateways do ("sign out everywhere")', async () => {
    const gary = (await tokens.issue('gary')).token;
    const reads = [`status/${randomUUID()}`, `history/${randomUUID()}`, 'user/gary', 'monitor'];
    const statuses = async () => {
      const answered: { read: string; status: number }[] = [];
      for (const read of reads) answered.push({ read, status: (await get(read, gary)).status });
      return answered;
    };
    expect(await statuses()).toEqual(reads.map((read, i) => ({ read, status: i < 2 ? 404 : 200 })));
    // What sse-gateway's POST /api/presence/{userId}/disconnect {"revoke": true} stores and
    // publishes; the app learns of it over pub/sub (its 30 s reload is not waited for).
    await new RedisTokenRevocations(redis, { keyPrefix: `${TOPIC_PREFIX}:` }).revoke('gary');
    const deadline = Date.now() + 5_000;
    let answered = await statuses();
    while (answered.some(({ status }) => status !== 401) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      answered = await statuses();
    }
    expect(answered).toEqual(reads.map((read) => ({ read, status: 401 })));
    expect(await (await get('user/gary', gary)).json()).toMatchObject({
      type: 'https://causeway.dev/problems/unauthenticated',
      detail: expect.stringContaining('revoked'),
    });
    // Another user's token still reads.
    expect((await get('user/ash')).status).toBe(200);
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
      const body = (await answer.json()) as Json;
      const result = z
        .fromJSONSchema({ ...local(schema), $defs: local(docs.components.schemas) })
        .safeParse(body);
      expect({ url, issues: result.error?.issues ?? [] }).toEqual({ url, issues: [] });
      // A refusal's problem type is one its status documents: a client branches on it.
      if (answer.status >= 400)
        expect({ url, description: documented.description }).toEqual({
          url,
          description: expect.stringContaining(body.type),
        });
    };
    const placed = order([{ sku: 'tea', quantity: 1 }]);
    await place(placed);
    await finished(placed.taskId);
    await expectDocumented('/api/v2/progress/status/{taskId}', `status/${placed.taskId}`);
    await expectDocumented('/api/v2/progress/history/{taskId}', `history/${placed.taskId}`);
    await expectDocumented('/api/v2/progress/status/{taskId}', `status/${randomUUID()}`);
    await expectDocumented('/api/v2/progress/status/{taskId}', 'status/a%00b');
    await expectDocumented('/api/v2/progress/history/{taskId}', `history/${'x'.repeat(129)}`);
    // Percent-escapes that decode to no text: refused by the router, before any route.
    await expectDocumented('/api/v2/progress/status/{taskId}', 'status/%E0%A4%A');
    await expectDocumented('/api/v2/progress/user/{userId}', 'user/%E0%A4%A');
    const accepted = order([{ sku: 'tea', quantity: 1 }]);
    await statuses.apply(acceptedProgressStatus(accepted));
    await expectDocumented('/api/v2/progress/status/{taskId}', `status/${accepted.taskId}`);
    await expectDocumented('/api/v2/progress/history/{taskId}', `history/${accepted.taskId}`);
    await expectDocumented('/api/v2/progress/user/{userId}', 'user/ash');
    await expectDocumented('/api/v2/progress/user/{userId}', 'user/misty');
    await expectDocumented('/api/v2/progress/user/{userId}', 'user/ash?limit=1');
    await expectDocumented('/api/v2/progress/user/{userId}', 'user/ash?limit=x');
    await expectDocumented('/api/v2/progress/user/{userId}', 'user/ash?limt=1');
    await expectDocumented('/api/v2/progress/monitor', 'monitor');
    await expectDocumented('/api/v2/progress/monitor', 'monitor', 'not-a-token');
  });

  describe('a dead-lettered order', () => {
    const admin = (url: string, init: RequestInit = {}) =>
      fetch(`${service.url}/admin/dead-letters${url}`, {
        ...init,
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...init.headers },
      });

    /** The order topic's dead letter of `taskId` other than those `seen`, once there is one. */
    async function deadLetterOf(taskId: string, seen: string[] = []): Promise<DeadLetter> {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const response = await admin(`?topic=${encodeURIComponent(ORDER_TOPIC)}`);
        expect(response.status).toBe(200);
        const { letters } = (await response.json()) as { letters: DeadLetter[] };
        const letter = letters.find(
          (l) => l.envelope?.aggregateId === taskId && !seen.includes(l.id),
        );
        if (letter) return letter;
        if (Date.now() > deadline) throw new Error(`task ${taskId} was not dead-lettered`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }

    async function replay(id: string): Promise<void> {
      const response = await admin('/replay', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ids: [id] }),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ replayed: 1, failures: 0 });
    }

    it('is replayed from /admin/dead-letters to its Kafka topic, attempts reset, and completes once its fault is gone', async () => {
      // A real fault of the status store: the task's status is not JSON (a bad write, a
      // restore gone wrong), so every status write of the task fails in Redis until an
      // operator deletes the key. Its first step is stored; the order cannot go on.
      const placed = order([{ sku: 'tea', quantity: 1 }], 'brock');
      const statusKey = `${TOPIC_PREFIX}:progress:task:${placed.taskId}`;
      await redis.set(statusKey, 'not a status');
      const brock = (await tokens.issue('brock')).token;
      // The trace of command-api's request (ADR 010): a replay keeps the order in it.
      const traceId = randomUUID().replace(/-/g, '');
      await bus.place(placed, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });

      const first = await deadLetterOf(placed.taskId);
      expect(first).toMatchObject({
        originalTopic: ORDER_TOPIC,
        handler: 'orders',
        attempts: 4, // MAX_RETRIES (3) + 1
        reason: expect.stringContaining('user_script'), // the status script's error
      });
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      // Counted, for the "orders dead-lettered" alert (docs/operations.md).
      expect(
        metrics
          .split('\n')
          .find(
            (line) =>
              line.startsWith('causeway_messages_dead_lettered_total{') &&
              line.includes(`topic="${ORDER_TOPIC}"`) &&
              line.includes('handler="orders"'),
          ),
      ).toMatch(/ 1$/);

      // Replayed while the fault lasts: the consumer reads it from Kafka again and gives it a
      // full set of attempts again before dead-lettering it anew.
      await replay(first.id);
      const second = await deadLetterOf(placed.taskId, [first.id]);
      expect(second).toMatchObject({
        originalTopic: ORDER_TOPIC,
        attempts: 4,
        envelope: { messageId: first.envelope!.messageId, metadata: { replayedFrom: first.id } },
      });
      // Both deliveries in the order's trace: the replay through Kafka kept its trace context.
      for (const letter of [first, second])
        expect(letter.envelope!.metadata.traceparent).toMatch(new RegExp(`^00-${traceId}-`));

      // Repaired, and replayed: the task resumes after its stored STARTED and completes.
      await redis.del(statusKey);
      await replay(second.id);
      expect(await finished(placed.taskId, brock)).toMatchObject({
        userId: 'brock',
        status: 'COMPLETED',
        eventCount: 5,
      });
      const left = (await (await admin(`?topic=${encodeURIComponent(ORDER_TOPIC)}`)).json()) as {
        letters: DeadLetter[];
      };
      expect(left.letters.filter((l) => l.envelope?.aggregateId === placed.taskId)).toEqual([]);
    });
  });
});
