import { randomUUID } from 'node:crypto';
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
});
