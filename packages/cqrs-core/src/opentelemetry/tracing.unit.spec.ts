import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { CommandBus } from '../buses/command-bus';
import { EventBus } from '../buses/event-bus';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { DEFAULT_MAX_MESSAGE_BYTES, JsonSerializer } from '../messages/json.serializer';
import { MessageTooLargeError } from '../messages/message.errors';
import { MessageFactory } from '../messages/message.factory';
import { runInTraceContext } from '../messages/trace-context';
import { SerializerRegistry } from '../messages/serializer.registry';
import { deadLetter } from '../middleware/dead-letter.middleware';
import { retry } from '../middleware/retry.middleware';
import { DeferredError, DomainError } from '../router/handler.errors';
import { Router } from '../router/router';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { topicNaming } from '../transport/topic.naming';
import { TracedPublisher } from './traced.publisher';
import { traceRequest } from './traced.request';
import { tracing } from './tracing.middleware';
import { registerTestTracing } from '../../test/fixtures/opentelemetry.sdk';

// A real OpenTelemetry SDK, registered globally as an application would.
const exporter = registerTestTracing();

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(done: () => boolean, timeoutMs = 3_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !done(); await wait(5))
    if (Date.now() > deadline) throw new Error('timed out');
}

function system() {
  const serializer = new SerializerRegistry()
    .register('Deposit', z.object({ amount: z.number() }))
    .register('Deposited', z.object({ amount: z.number() }));
  const broker = new InMemoryBroker({ serializer, redeliveryDelayMs: 5 });
  const publisher = new TracedPublisher(broker, { system: 'in-memory' });
  const naming = topicNaming('test.');
  const deadLetters = new InMemoryDeadLetterQueue();
  const instance = (service: string, instanceId: string) => {
    const router = new Router({ subscriber: broker.subscriber(), service, instanceId });
    router.use(
      tracing({ system: 'in-memory' }),
      deadLetter({ queue: deadLetters }),
      retry({ maxAttempts: 2, initialDelayMs: 1 }),
    );
    return {
      router,
      commands: new CommandBus({
        publisher,
        router,
        naming,
        serializer,
        instanceId,
        timeoutMs: 2_000,
      }),
      events: new EventBus({ publisher, router, naming }),
    };
  };
  return { instance };
}

const spans = () => exporter.getFinishedSpans();
const named = (name: string) => spans().filter((s) => s.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('OpenTelemetry tracing of messages', () => {
  it('makes one trace of a request, its command, the events it causes and their handlers', async () => {
    const { instance } = system();
    const api = instance('api', 'api-1');
    const bank = instance('bank', 'bank-1');
    const ledger = instance('ledger', 'ledger-1');
    const messages = new MessageFactory();
    bank.commands.handle<{ amount: number }>('Deposit', async (command) => {
      await bank.events.publish([messages.event('Deposited', { amount: command.data.amount })]);
      return command.data.amount;
    });
    const seen: string[] = [];
    ledger.events.on<{ amount: number }>(
      'Deposited',
      async (event) => {
        seen.push(String(event.metadata.traceparent));
      },
      { name: 'ledger' },
    );
    await Promise.all([api.router.run(), bank.router.run(), ledger.router.run()]);

    const request = trace.getTracer('test').startSpan('POST /deposits', { kind: SpanKind.SERVER });
    const result = await context.with(trace.setSpan(context.active(), request), () =>
      api.commands.request(messages.command('Deposit', { amount: 5 })),
    );
    request.end();
    expect(result).toBe(5);
    await until(() => seen.length === 1);
    await until(() => named('process test.events.Deposited').length === 1);

    const traceId = request.spanContext().traceId;
    const [sendCommand] = named('send test.commands.Deposit');
    const [processCommand] = named('process test.commands.Deposit');
    const [sendEvent] = named('send test.events.Deposited');
    const [processEvent] = named('process test.events.Deposited');
    for (const span of [sendCommand, processCommand, sendEvent, processEvent])
      expect(span?.spanContext().traceId).toBe(traceId);
    // request → send command → process command → send event → process event
    expect(parentOf(sendCommand!)).toBe(request.spanContext().spanId);
    expect(sendCommand!.kind).toBe(SpanKind.PRODUCER);
    expect(parentOf(processCommand!)).toBe(sendCommand!.spanContext().spanId);
    expect(processCommand!.kind).toBe(SpanKind.CONSUMER);
    expect(parentOf(sendEvent!)).toBe(processCommand!.spanContext().spanId);
    expect(parentOf(processEvent!)).toBe(sendEvent!.spanContext().spanId);
    // The handler saw its own span as the message's parent.
    expect(seen[0]).toBe(`00-${traceId}-${processEvent!.spanContext().spanId}-01`);
    expect(processCommand!.attributes).toMatchObject({
      'messaging.system': 'in-memory',
      'messaging.destination.name': 'test.commands.Deposit',
      'messaging.operation.type': 'process',
      'causeway.message.type': 'Deposit',
      'causeway.attempt': 1,
      'causeway.outcome': 'success',
    });
    await Promise.all([api.router.close(), bank.router.close(), ledger.router.close()]);
  });

  it('marks a handler failure and a dead letter as errors, and a refused command as an answer', async () => {
    const { instance } = system();
    const bank = instance('bank', 'bank-1');
    class Overdrawn extends DomainError {}
    bank.commands.handle<{ amount: number }>('Deposit', async (command) => {
      if (command.data.amount < 0) throw new Overdrawn('a deposit is never negative');
      throw new Error('ledger unreachable');
    });
    await bank.router.run();
    const messages = new MessageFactory();
    await expect(bank.commands.request(messages.command('Deposit', { amount: 1 }))).rejects.toThrow(
      'ledger unreachable',
    );
    await expect(
      bank.commands.request(messages.command('Deposit', { amount: -1 })),
    ).rejects.toThrow('never negative');
    await until(() => named('process test.commands.Deposit').length === 2);
    const [failed, refused] = named('process test.commands.Deposit');
    expect(failed!.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'Error: ledger unreachable',
    });
    expect(failed!.attributes['causeway.outcome']).toBe('dead-lettered');
    expect(failed!.events.map((e) => e.name)).toContain('exception');
    expect(refused!.status.code).toBe(SpanStatusCode.UNSET);
    expect(refused!.attributes).toMatchObject({
      'causeway.outcome': 'refused',
      'causeway.refusal': 'Overdrawn',
    });
    await bank.router.close();
  });

  it('marks a deferred delivery as deferred, not as an error, and traces its redelivery', async () => {
    const { instance } = system();
    const bank = instance('bank', 'bank-1');
    let calls = 0;
    bank.commands.handle('Deposit', async () => {
      if (++calls === 1) throw new DeferredError('the ledger is busy');
    });
    await bank.router.run();
    await bank.commands.send(new MessageFactory().command('Deposit', { amount: 1 }));
    await until(() => named('process test.commands.Deposit').length === 2);
    const [deferred, handled] = named('process test.commands.Deposit');
    expect(deferred!.status.code).toBe(SpanStatusCode.UNSET);
    expect(deferred!.events).toEqual([]);
    expect(deferred!.attributes).toMatchObject({
      'causeway.outcome': 'deferred',
      'causeway.deferred': 'DeferredError: the ledger is busy',
      'causeway.attempt': 1,
    });
    expect(handled!.attributes).toMatchObject({
      'causeway.outcome': 'success',
      'causeway.attempt': 2,
    });
    await bank.router.close();
  });

  it('makes an incoming request with a traceparent a SERVER span, parent of the commands it sends', async () => {
    const { instance } = system();
    const bank = instance('bank', 'bank-1');
    bank.commands.handle('Deposit', async () => undefined);
    await bank.router.run();
    const headers = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
    const status = await traceRequest(
      'POST /deposits',
      headers,
      async (span) => {
        await bank.commands.send(
          new MessageFactory().command('Deposit', { amount: 1 }, { causedBy: null }),
        );
        span.setAttribute('http.response.status_code', 202);
        return 202;
      },
      { attributes: { 'http.request.method': 'POST' } },
    );
    expect(status).toBe(202);
    await until(() => named('process test.commands.Deposit').length === 1);
    const [server] = named('POST /deposits');
    const [send] = named('send test.commands.Deposit');
    const [processed] = named('process test.commands.Deposit');
    expect(server!.kind).toBe(SpanKind.SERVER);
    expect(server!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(parentOf(server!)).toBe('00f067aa0ba902b7');
    expect(server!.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.response.status_code': 202,
    });
    expect(parentOf(send!)).toBe(server!.spanContext().spanId);
    expect(parentOf(processed!)).toBe(send!.spanContext().spanId);
    await bank.router.close();
  });

  it('continues the trace of an incoming request without a span, and leaves traced messages of an outbox as they are', async () => {
    const { instance } = system();
    const bank = instance('bank', 'bank-1');
    const parents: string[] = [];
    bank.commands.handle('Deposit', async (command) => {
      parents.push(String(command.metadata.traceparent));
    });
    await bank.router.run();
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const messages = new MessageFactory();
    // A request whose server has no span of its own: the header's context travels in the metadata.
    const command = runInTraceContext({ traceparent: incoming }, () =>
      messages.command('Deposit', { amount: 1 }, { causedBy: null }),
    );
    await bank.commands.send(command); // outside any span: sent as it is
    await until(() => named('process test.commands.Deposit').length === 1);
    expect(named('send test.commands.Deposit')).toEqual([]);
    const [processed] = named('process test.commands.Deposit');
    expect(processed!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(parentOf(processed!)).toBe('00f067aa0ba902b7');
    // A message with no trace at all starts one at its send span.
    await bank.commands.send(messages.command('Deposit', { amount: 2 }, { causedBy: null }));
    await until(() => named('process test.commands.Deposit').length === 2);
    const [send] = named('send test.commands.Deposit');
    expect(parentOf(send!)).toBeUndefined();
    expect(parents[1]).toContain(send!.spanContext().traceId);
    await bank.router.close();
  });
  it('publishes an event a store took just under the size limit with the trace fields it adds', async () => {
    const serializer = new JsonSerializer(); // the default limit, DEFAULT_MAX_MESSAGE_BYTES
    const store = new InMemoryEventStore({ serializer });
    const broker = new InMemoryBroker({ serializer });
    const publisher = new TracedPublisher(broker);
    const messages = new MessageFactory();
    const event = (text: string) => messages.event('Uploaded', { text }, { aggregateId: 'doc-1' });
    const sizeOf = (text: string) => {
      const { messageId, type, aggregateId, aggregateType, version, data, metadata } =
        serializer.serialize(event(text));
      const counted = { messageId, type, aggregateId, aggregateType, version, data, metadata };
      return Buffer.byteLength(JSON.stringify(counted));
    };
    // 20 bytes under the limit: less than a traceparent adds.
    const text = 'x'.repeat(DEFAULT_MAX_MESSAGE_BYTES - sizeOf('') - 20);
    await store.append('doc-1', [event(text)], { expectedVersion: 'no-stream' });
    const [stored] = await store.readStream('doc-1');
    const received: string[] = [];
    const subscription = await broker
      .subscriber()
      .subscribe(['test.events.Uploaded'], { group: 'g', consumer: 'c' }, async (delivery) => {
        received.push(String(delivery.envelope.metadata.traceparent));
      });
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('outbox run', async (span) => {
      await publisher.publish('test.events.Uploaded', [stored!]);
      span.end();
    });
    await until(() => received.length === 1);
    expect(received[0]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // What is really too big for the wire is still refused, naming the publisher's limit.
    const huge = event('x'.repeat(DEFAULT_MAX_MESSAGE_BYTES + 100 * 1024));
    await expect(broker.publish('test.events.Uploaded', [huge])).rejects.toThrow(
      MessageTooLargeError,
    );
    await expect(broker.publish('test.events.Uploaded', [huge])).rejects.toThrow(
      /maximum \(maxMessageBytes\) is 1638400/,
    );
    await subscription.close();
    await broker.close();
  });
});
