import { randomUUID } from 'node:crypto';
import { contractsSerializer, ORDER_PLACED, type OrderPlaced } from '@causeway/contracts';
import { createMessage } from '@causeway/cqrs-core';
import { RedisDeadLetterQueue } from '@causeway/cqrs-core/redis';
import { OtlpReceiver } from '@causeway/testkit';
import { openOrderBusClient, type OrderBusClient } from './order-bus.client';
import { useOrderProcessor } from './order-processor.harness';

// README: "With OTEL_EXPORTER_OTLP_ENDPOINT set, each app exports a span per delivery and send",
// and a conversation across services is one trace (ADR 010): an order's delivery from Kafka too.
describe('order-processor: an order delivery is traced with OpenTelemetry', () => {
  let receiver: OtlpReceiver;
  let bus: OrderBusClient | undefined;
  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
  });
  afterAll(async () => {
    await bus?.close();
    await receiver?.close();
  });

  const app = useOrderProcessor('ordertrace', () => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    ORDER_STEP_DELAY_MS: '0',
  }));

  it("exports a CONSUMER span of the order's delivery, child of the trace the order carries", async () => {
    bus = await openOrderBusClient(app.ns);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const taskId = randomUUID();
    await bus.place(
      {
        taskId,
        userId: 'ash',
        items: [{ sku: 'tea', quantity: 1 }],
        placedAt: new Date().toISOString(),
      },
      { traceparent: `00-${traceId}-${parent}-01` },
    );
    const span = await receiver.waitFor(
      (candidate) => candidate.traceId === traceId && candidate.kind === 5,
      'for the order delivery',
      30_000,
    );
    expect(span).toMatchObject({
      service: 'order-processor',
      name: `process ${app.ns.id}.order-events-v2`,
      parentSpanId: parent,
      attributes: {
        'messaging.system': 'kafka',
        'causeway.handler': 'orders',
        'causeway.message.type': 'OrderPlaced',
        'causeway.outcome': 'success',
      },
    });
  }, 60_000);
  // The bus's replays go out through a TracedPublisher; the order topic's, through a bare
  // KafkaPublisher: a letter dead-lettered while tracing was off (no trace context) was replayed
  // with none, its delivery a trace of its own that did not show the replay (session 49).
  it('traces the replay of an order letter without trace context: a send span, parent of its delivery', async () => {
    bus ??= await openOrderBusClient(app.ns);
    const topic = `${app.ns.id}.order-events-v2`;
    const order: OrderPlaced = {
      taskId: randomUUID(),
      userId: 'ash',
      items: [{ sku: 'tea', quantity: 1 }],
      placedAt: new Date().toISOString(),
    };
    const envelope = createMessage({
      type: ORDER_PLACED,
      data: order,
      category: 'event',
      aggregateId: order.taskId,
      causedBy: null,
    });
    expect(envelope.metadata.traceparent).toBeUndefined();
    const queue = new RedisDeadLetterQueue(bus.redis, {
      keyPrefix: `${app.ns.id}.:`,
      serializer: contractsSerializer(),
    });
    const id = await queue.add({
      envelope,
      originalTopic: topic,
      position: '0:0',
      group: 'order-processor.orders',
      handler: 'orders',
      reason: 'the status store was unreachable',
      errorName: 'Error',
      attempts: 4,
      deadLetteredAt: new Date().toISOString(),
    });

    const replay = await fetch(`${app.url()}/admin/dead-letters/replay`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${app.adminToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ ids: [id] }),
    });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ replayed: 1, failures: 0 });

    const delivery = await receiver.waitFor(
      (candidate) =>
        candidate.kind === 5 && candidate.attributes['messaging.message.id'] === envelope.messageId,
      'for the replayed delivery',
      30_000,
    );
    const send = await receiver.waitFor(
      (candidate) => candidate.kind === 4 && candidate.traceId === delivery.traceId,
      "for the replay's send span, in the trace of the delivery",
      5_000,
    );
    expect(send).toMatchObject({
      service: 'order-processor',
      name: `send ${topic}`,
      attributes: { 'messaging.system': 'kafka' },
    });
    expect(delivery.parentSpanId).toBe(send.spanId);
    // The order's conversation goes on as it was: the same correlation id, now in a trace.
    expect(delivery.attributes).toMatchObject({
      'messaging.message.conversation_id': envelope.metadata.correlationId,
      'causeway.outcome': 'success',
    });
  }, 60_000);
});
