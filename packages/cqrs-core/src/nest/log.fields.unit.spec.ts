import { z } from 'zod';
import { MessageFactory } from '../messages/message.factory';
import { SerializerRegistry } from '../messages/serializer.registry';
import { Router } from '../router/router';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { runInMessageContext } from '../messages/message-context';
import { runInTraceContext } from '../messages/trace-context';
import { messageLogFields } from './log.fields';

const factory = new MessageFactory();

describe('messageLogFields', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('names the message being handled and its trace, also after an await', async () => {
    const command = factory.command('Ship', { id: 1 }, { aggregateId: 'o-1', causedBy: null });
    const traced = { ...command, metadata: { ...command.metadata, traceparent } };
    const fields = await runInMessageContext(traced, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return messageLogFields();
    });
    expect(fields).toEqual({
      messageId: command.messageId,
      messageType: 'Ship',
      correlationId: command.messageId,
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    });
    const caused = runInMessageContext(command, () =>
      factory.event('Shipped', {}, { aggregateId: 'o-1' }),
    );
    expect(runInMessageContext(caused, messageLogFields)).toEqual({
      messageId: caused.messageId,
      messageType: 'Shipped',
      correlationId: command.messageId,
    });
  });

  it("names a request's trace outside any message, and nothing outside both", () => {
    expect(runInTraceContext({ traceparent }, messageLogFields)).toEqual({
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    });
    expect(runInTraceContext({ traceparent: 'not-one' }, messageLogFields)).toEqual({});
    expect(messageLogFields()).toEqual({});
  });
});

describe('messageLogFields in a router', () => {
  it('names the message in what middleware outside the handler logs, and in the failure report', async () => {
    const serializer = new SerializerRegistry().register('Ship', z.object({ id: z.number() }));
    const broker = new InMemoryBroker({ serializer });
    const logged: { where: string; fields: ReturnType<typeof messageLogFields> }[] = [];
    const router = new Router({
      subscriber: broker.subscriber(),
      service: 'orders',
      instanceId: 'orders-1',
      onHandlerError: () => logged.push({ where: 'report', fields: messageLogFields() }),
    });
    let failed = false;
    const done = new Promise<void>((resolve) => {
      router.addHandler({
        name: 'shipping',
        topics: ['t.Ship'],
        outerMiddleware: [
          (next) => async (delivery) => {
            logged.push({ where: 'outer middleware', fields: messageLogFields() });
            const result = await next(delivery);
            resolve();
            return result;
          },
        ],
        handle: async () => {
          if (!failed) {
            failed = true;
            throw new Error('the warehouse is down');
          }
        },
      });
    });
    await router.run();
    const command = factory.command('Ship', { id: 1 }, { aggregateId: 'o-1', causedBy: null });
    await broker.publish('t.Ship', [command]);
    await done;
    await router.close();
    const named = { messageId: command.messageId, messageType: 'Ship' };
    expect(logged.map(({ where }) => where)).toEqual([
      'outer middleware',
      'report',
      'outer middleware',
    ]);
    for (const { fields } of logged) expect(fields).toMatchObject(named);
    expect(messageLogFields()).toEqual({});
  });

  it('names its own message in the middleware of a delivery published from another handler', async () => {
    const serializer = new SerializerRegistry()
      .register('Ship', z.object({ id: z.number() }))
      .register('Shipped', z.object({ id: z.number() }));
    const broker = new InMemoryBroker({ serializer });
    const router = new Router({
      subscriber: broker.subscriber(),
      service: 'orders',
      instanceId: 'o-1',
    });
    const seen: unknown[] = [];
    let shippedId = '';
    const done = new Promise<void>((resolve) => {
      router.addHandler({
        name: 'shipping',
        topics: ['t.Ship'],
        handle: async (delivery) => {
          const shipped = factory.event('Shipped', { id: 1 }, { aggregateId: 'o-1' });
          shippedId = shipped.messageId;
          await broker.publish('t.Shipped', [shipped]);
          void delivery;
        },
      });
      router.addHandler({
        name: 'mailer',
        topics: ['t.Shipped'],
        outerMiddleware: [
          (next) => async (delivery) => {
            seen.push({ outer: messageLogFields().messageId, actual: delivery.envelope.messageId });
            const r = await next(delivery);
            resolve();
            return r;
          },
        ],
        middleware: [
          (next) => async (delivery) => {
            seen.push({ inner: messageLogFields().messageId, actual: delivery.envelope.messageId });
            return next(delivery);
          },
        ],
        handle: async () => {},
      });
    });
    await router.run();
    const command = factory.command('Ship', { id: 1 }, { aggregateId: 'o-1', causedBy: null });
    await broker.publish('t.Ship', [command]);
    await done;
    await router.close();
    expect(seen).toEqual([
      { outer: shippedId, actual: shippedId },
      { inner: shippedId, actual: shippedId },
    ]);
  });
});
