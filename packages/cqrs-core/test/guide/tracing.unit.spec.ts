import {
  CommandBus,
  deadLetter,
  InMemoryBroker,
  InMemoryDeadLetterQueue,
  MessageFactory,
  retry,
  Router,
  runInTraceContext,
  SerializerRegistry,
  topicNaming,
} from '@causeway/cqrs-core';
import { TracedPublisher, tracing } from '@causeway/cqrs-core/opentelemetry';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';

// What an application's OpenTelemetry setup does (usually @opentelemetry/sdk-node).
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('guide: tracing', () => {
  it('traces a command from an HTTP request to its handler', async () => {
    const serializer = new SerializerRegistry().register(
      'Deposit',
      z.object({ amount: z.number() }),
    );
    const messages = new MessageFactory();
    // #region guide:tracing
    const broker = new InMemoryBroker({ serializer }); // or a Redis Streams / Kafka publisher
    const publisher = new TracedPublisher(broker, { system: 'redis' }); // spans `send <topic>`
    const router = new Router({
      subscriber: broker.subscriber(),
      service: 'accounts',
      instanceId: 'a1',
    });
    router.use(
      tracing({ system: 'redis' }), // first: a span `process <topic>` covers the retries
      deadLetter({ queue: new InMemoryDeadLetterQueue() }),
      retry(),
    );
    const naming = topicNaming('bank.');
    const commands = new CommandBus({ publisher, router, naming, serializer, instanceId: 'a1' });
    // #endregion
    const handled: string[] = [];
    commands.handle('Deposit', async (command) => {
      handled.push(String(command.metadata.traceparent));
    });
    await router.run();
    const headers = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
    // #region guide:tracing-http
    // In an HTTP handler (no OpenTelemetry HTTP instrumentation needed):
    await runInTraceContext(headers, async () => {
      const deposit = messages.command('Deposit', { amount: 5 }, { aggregateId: 'acc-1' });
      await commands.send(deposit); // deposit.metadata.traceparent === headers.traceparent
    });
    // #endregion
    for (const deadline = Date.now() + 3_000; exporter.getFinishedSpans().length === 0;)
      if (Date.now() > deadline) throw new Error('no span');
      else await wait(5);
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe('process bank.commands.Deposit');
    expect(span!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(handled).toEqual([
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${span!.spanContext().spanId}-01`,
    ]);
    await router.close();
    commands.close();
  });
});
