import { z } from 'zod';
import { SerializerRegistry } from '../messages/serializer.registry';
import { Router } from '../router/router';
import { MessageFactory } from '../messages/message.factory';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { topicNaming } from '../transport/topic.naming';
import { CommandBus } from './command-bus';

describe('CommandBus given another registry than its transport', () => {
  const registry = () => new SerializerRegistry().register('Move', z.object({ dx: z.number() }));

  it('explains on every request, not only the first', async () => {
    const broker = new InMemoryBroker({ serializer: registry() });
    const router = new Router({ subscriber: broker.subscriber(), service: 's', instanceId: 'i' });
    const bus = new CommandBus({
      publisher: broker,
      router,
      naming: topicNaming('t.'),
      serializer: registry(), // an equal registry, not the transport's
      instanceId: 'i',
      timeoutMs: 1_000,
    });
    await router.run();
    const move = () => new MessageFactory().command('Move', { dx: 1 }, { aggregateId: 'ash' });
    for (let attempt = 0; attempt < 2; attempt++)
      await expect(bus.request(move())).rejects.toThrow(/pass that same registry instance/);
    await router.close();
  });
});
