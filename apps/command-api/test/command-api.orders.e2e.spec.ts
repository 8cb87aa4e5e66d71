import path from 'node:path';
import { contractsSerializer, ORDER_EVENTS_TOPIC, ORDER_PLACED } from '@causeway/contracts';
import {
  type Envelope,
  type ManagedConnection,
  type SubscriptionHandle,
} from '@causeway/cqrs-core';
import { type KafkaClient, kafkaConnection, KafkaSubscriber } from '@causeway/cqrs-core/kafka';
import { RedisProgressStatuses, TokenService } from '@causeway/platform';
import Redis from 'ioredis';
import {
  OtlpReceiver,
  removeNamespaceData,
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';

// The BUILT command-api against real Redis and Kafka (SPEC S3-2, ADR 015): an order lands on
// the deployment's order topic once, for the caller; refused requests publish nothing.
jest.setTimeout(90_000);
const ns = testNamespace('capiorders');
const secret = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret });
const topic = `${ns.id}${ORDER_EVENTS_TOPIC}`;

let api: ServiceProcess;
/** Where the app exports its spans (OTEL_EXPORTER_OTLP_ENDPOINT). */
let receiver: OtlpReceiver;
let kafka: ManagedConnection<KafkaClient>;
let subscriber: KafkaSubscriber;
let subscription: SubscriptionHandle;
const received: Envelope[] = [];

beforeAll(async () => {
  receiver = await OtlpReceiver.start();
  api = await startServiceProcess({
    appDir: path.join(__dirname, '..'),
    env: {
      REDIS_URL: serverAddress('redis'),
      KAFKA_BROKERS: serverAddress('kafka'),
      ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
      JWT_SECRET: secret,
      TOPIC_PREFIX: ns.id,
      RATE_LIMIT_POINTS: '10000',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
  kafka = kafkaConnection({ brokers: ns.kafkaBrokers, clientId: ns.name('orders-reader') });
  await kafka.open();
  subscriber = new KafkaSubscriber(kafka.client, {
    serializer: contractsSerializer(),
    groupIdPrefix: `${ns.id}.`,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 300,
    rebalanceTimeoutMs: 10_000,
    maxWaitTimeMs: 100,
    closeTimeoutMs: 2_000,
  });
  subscription = await subscriber.subscribe(
    [topic],
    { group: 'e2e-orders', consumer: 'reader', startFrom: 'earliest' },
    async (delivery) => {
      received.push(delivery.envelope);
    },
  );
  await waitForStatus(`${api.url}/health/ready`, 200, 30_000);
});

afterAll(async () => {
  await api?.stop('SIGKILL');
  await subscription?.close();
  await subscriber?.close();
  await kafka?.close();
  await receiver?.close();
  await removeNamespaceData(ns, ['redis', 'kafka']);
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function order(body: unknown, headers: Record<string, string> = {}, query = '') {
  const response = await fetch(`${api.url}/api/v2/progress/orders${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Json,
  };
}

const bearer = async (userId: string) => ({
  authorization: `Bearer ${(await tokens.issue(userId, { trainerIds: [] })).token}`,
});

it('publishes one OrderPlaced for the caller per order, none for a refused one', async () => {
  const refused = await order({ items: [{ sku: 'potion', quantity: 0 }] }, await bearer('ash'));
  expect(refused.status).toBe(400);
  expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
  expect(refused.body.errors).toEqual([expect.objectContaining({ field: 'items.0.quantity' })]);
  const anonymous = await order({ items: [{ sku: 'potion', quantity: 1 }] });
  expect(anonymous.status).toBe(401);
  // Without a token the 401 comes first, whatever the query (it was a 400 about the query).
  const potion = { items: [{ sku: 'potion', quantity: 1 }] };
  expect((await order(potion, {}, '?x=1')).status).toBe(401);
  const queried = await order(potion, await bearer('ash'), '?x=1');
  expect(queried).toMatchObject({ status: 400, body: { errors: [{ field: 'x' }] } });

  const keyed = { ...(await bearer('ash')), 'idempotency-key': `order-${ns.id}` };
  // The body names no user: the order is the token's subject's.
  const placed = await order({ items: [{ sku: 'potion', quantity: 2 }] }, keyed);
  expect(placed.status).toBe(202);
  const { taskId } = placed.body;
  expect(placed.body).toEqual({
    taskId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    statusUrl: `/api/v2/progress/status/${taskId}`,
    subscribeUrl: `/api/v2/progress/subscribe/${taskId}`,
  });
  // Acknowledged by Kafka before the answer: it is on the topic now.
  for (let i = 0; i < 200 && received.length === 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 50));
  const retried = await order({ items: [{ sku: 'potion', quantity: 2 }] }, keyed);
  expect(retried).toMatchObject({ status: 202, body: { taskId } });
  expect(retried.headers.get('idempotent-replayed')).toBe('true');

  // Anything more (the refused orders, the retry) would have arrived by now.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  expect(received).toHaveLength(1);
  expect(received[0]).toMatchObject({
    type: ORDER_PLACED,
    aggregateId: taskId,
    aggregateType: 'ProgressTask',
    data: { taskId, userId: 'ash', items: [{ sku: 'potion', quantity: 2 }] },
  });
});

// The status and type depended on which was wrong: a bad body was a 400 naming it alone, a
// malformed Idempotency-Key with a good body a 422 `invalid-fields`.
it('refuses a bad body and a malformed Idempotency-Key in one 400 naming both, whichever is wrong', async () => {
  const malformed = { ...(await bearer('brock')), 'idempotency-key': 'a key with spaces' };
  const keyError = {
    field: 'Idempotency-Key',
    message: 'must be 1 to 255 visible ASCII characters',
  };
  const both = await order({ items: [{ sku: 'potion', quantity: 0 }] }, malformed);
  expect({ status: both.status, type: both.body.type, errors: both.body.errors }).toEqual({
    status: 400,
    type: 'https://causeway.dev/problems/invalid-request',
    errors: [expect.objectContaining({ field: 'items.0.quantity' }), keyError],
  });
  const keyOnly = await order({ items: [{ sku: 'potion', quantity: 1 }] }, malformed);
  expect({ status: keyOnly.status, type: keyOnly.body.type, errors: keyOnly.body.errors }).toEqual({
    status: 400,
    type: 'https://causeway.dev/problems/invalid-request',
    errors: [keyError],
  });
  const bodyOnly = await order(
    { items: [{ sku: 'potion', quantity: 0 }] },
    { ...(await bearer('brock')), 'idempotency-key': `brock-${ns.id}` },
  );
  expect({
    status: bodyOnly.status,
    type: bodyOnly.body.type,
    errors: bodyOnly.body.errors,
  }).toEqual({
    status: 400,
    type: 'https://causeway.dev/problems/invalid-request',
    errors: [expect.objectContaining({ field: 'items.0.quantity' })],
  });
});

it('records the accepted order ACCEPTED where /status and the gateways read it, at the 202', async () => {
  // No order-processor runs here: what a client polling statusUrl at once is shown.
  const redis = new Redis(serverAddress('redis'));
  try {
    const statuses = new RedisProgressStatuses({
      client: redis,
      keyPrefix: `${ns.id}:`,
      ttlMs: 86_400_000,
    });
    const placed = await order({ items: [{ sku: 'potion', quantity: 1 }] }, await bearer('ash'));
    expect(placed.status).toBe(202);
    expect(await statuses.get(placed.body.taskId)).toMatchObject({
      taskId: placed.body.taskId,
      userId: 'ash',
      status: 'ACCEPTED',
      percentage: 0,
      eventCount: 0,
    });
  } finally {
    redis.disconnect();
  }
});

it('lists the order endpoint in its OpenAPI document', async () => {
  const document = (await (await fetch(`${api.url}/docs-json`)).json()) as Json;
  expect(document.paths['/api/v2/progress/orders'].post.responses).toHaveProperty('202');
  expect(document.components.schemas.PlaceOrderRequest).toBeDefined();
});

it("sends the order in the request's trace: a send span, child of the request's span, named in the order", async () => {
  // README: each app exports a span per send, and a conversation is one trace (ADR 010): the
  // order went out untraced, carrying the caller's traceparent only (none without one).
  const arrived = async (taskId: string) => {
    for (let i = 0; i < 200; i++) {
      const found = received.find((envelope) => envelope.aggregateId === taskId);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`order ${taskId} did not arrive`);
  };
  const traceId = '5b8efff798038103d269b633813fc60c';
  const placed = await order(
    { items: [{ sku: 'potion', quantity: 1 }] },
    { ...(await bearer('ash')), traceparent: `00-${traceId}-eee19b7ec3c1b174-01` },
  );
  expect(placed.status).toBe(202);
  const server = await receiver.waitFor(
    (span) => span.traceId === traceId && span.kind === 2,
    'for the request',
  );
  expect(server).toMatchObject({ name: 'POST /api/v2/progress/orders', service: 'command-api' });
  const send = await receiver.waitFor(
    (span) => span.parentSpanId === server.spanId && span.kind === 4,
    'for the order',
  );
  expect(send).toMatchObject({
    name: `send ${topic}`,
    attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': topic },
  });
  const envelope = await arrived(placed.body.taskId);
  expect(envelope.metadata.traceparent).toBe(`00-${traceId}-${send.spanId}-01`);

  // Without a traceparent of the caller's, the order still carries the request's trace.
  const untraced = await order({ items: [{ sku: 'potion', quantity: 1 }] }, await bearer('ash'));
  expect(untraced.status).toBe(202);
  const carried = (await arrived(untraced.body.taskId)).metadata.traceparent;
  expect(carried).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  const [, untracedId, sendId] = String(carried).split('-');
  const request = await receiver.waitFor(
    (span) => span.traceId === untracedId && span.kind === 2,
    'for the request without a traceparent',
  );
  expect(request.name).toBe('POST /api/v2/progress/orders');
  expect(receiver.spans.find((span) => span.spanId === sendId)?.parentSpanId).toBe(request.spanId);
});

it('counts the orders Kafka accepted in causeway_messages_published_total, by topic', async () => {
  // docs/operations.md: "messages the broker accepted from this app" — orders too.
  const published = async () => {
    const text = await (await fetch(`${api.url}/metrics`)).text();
    const line = text
      .split('\n')
      .find(
        (candidate) =>
          candidate.startsWith('causeway_messages_published_total{') &&
          candidate.includes(`topic="${topic}"`),
      );
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const before = await published();
  for (let i = 0; i < 2; i++)
    expect(
      (await order({ items: [{ sku: 'potion', quantity: 1 }] }, await bearer('ash'))).status,
    ).toBe(202);
  expect(await published()).toBe(before + 2);
});
