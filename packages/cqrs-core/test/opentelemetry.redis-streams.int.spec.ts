import { context, SpanKind, trace } from '@opentelemetry/api';
import { testNamespace } from '@causeway/testkit';
import { z } from 'zod';
import {
  CommandBus,
  EventBus,
  MessageFactory,
  Router,
  SerializerRegistry,
  topicNaming,
} from '../src';
import { TracedPublisher, tracing } from '../src/opentelemetry';
import { registerTestTracing } from './fixtures/opentelemetry.sdk';
import { redisConnection, RedisStreamsPublisher, RedisStreamsSubscriber } from '../src/redis';

// One trace across processes: here two routers with their own subscribers over a real Redis,
// the trace context travelling only in the messages' metadata through Redis Streams.
const exporter = registerTestTracing();
const ns = testNamespace('otel');
const redis = redisConnection({ url: ns.redisUrl, name: 'otel-test' });

beforeAll(async () => {
  await redis.open();
});
afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await redis.client.scan(cursor, 'MATCH', `${ns.keyPrefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.client.unlink(...keys);
  } while (cursor !== '0');
  await redis.close();
});

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('keeps one trace from a request through a command and an event over Redis Streams', async () => {
  const serializer = new SerializerRegistry()
    .register('Deposit', z.object({ amount: z.number() }))
    .register('Deposited', z.object({ amount: z.number() }));
  const layout = { keyPrefix: `${ns.keyPrefix}bus:`, partitions: 2, blockMs: 100 };
  const naming = topicNaming('bank.');
  const publisher = new TracedPublisher(
    new RedisStreamsPublisher({ client: redis.client, serializer, ...layout }),
    { system: 'redis' },
  );
  const node = (service: string) => {
    const subscriber = new RedisStreamsSubscriber({ client: redis.client, serializer, ...layout });
    const router = new Router({ subscriber, service, instanceId: `${service}-1` });
    router.use(tracing({ system: 'redis' }));
    const commands = new CommandBus({
      publisher,
      router,
      naming,
      serializer,
      instanceId: `${service}-1`,
    });
    return { router, subscriber, commands, events: new EventBus({ publisher, router, naming }) };
  };
  const api = node('api');
  const accounts = node('accounts');
  const ledger = node('ledger');
  const messages = new MessageFactory();
  accounts.commands.handle<{ amount: number }>('Deposit', async (command) => {
    await accounts.events.publish([messages.event('Deposited', { amount: command.data.amount })]);
    return 'ok';
  });
  const handled: string[] = [];
  ledger.events.on('Deposited', async (event) => void handled.push(event.messageId), {
    name: 'ledger',
  });
  api.commands.ensureRepliesSubscribed();
  await Promise.all([api.router.run(), accounts.router.run(), ledger.router.run()]);

  const request = trace.getTracer('test').startSpan('POST /deposits', { kind: SpanKind.SERVER });
  await context.with(trace.setSpan(context.active(), request), () =>
    api.commands.request(messages.command('Deposit', { amount: 5 }, { aggregateId: 'acc-1' }), {
      timeoutMs: 10_000,
    }),
  );
  request.end();
  for (const deadline = Date.now() + 10_000; ; await wait(20)) {
    if (exporter.getFinishedSpans().some((s) => s.name === 'process bank.events.Deposited')) break;
    if (Date.now() > deadline) throw new Error('the event was not handled');
  }

  const spans = exporter.getFinishedSpans();
  const span = (name: string) => spans.find((s) => s.name === name)!;
  const chain = [
    'send bank.commands.Deposit',
    'process bank.commands.Deposit',
    'send bank.events.Deposited',
    'process bank.events.Deposited',
  ].map(span);
  let parent = request.spanContext().spanId;
  for (const link of chain) {
    expect(link.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(link.parentSpanContext?.spanId).toBe(parent);
    expect(link.attributes['messaging.system']).toBe('redis');
    parent = link.spanContext().spanId;
  }
  expect(handled).toHaveLength(1);

  await Promise.all([api.router.close(), accounts.router.close(), ledger.router.close()]);
  api.commands.close();
  accounts.commands.close();
  await Promise.all([api, accounts, ledger].map((n) => n.subscriber.close()));
  await publisher.close();
});
