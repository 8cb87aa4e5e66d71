import { JsonSerializer } from '../messages/json.serializer';
import { SerializerRegistry } from '../messages/serializer.registry';
import { Router } from '../router/router';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { topicNaming } from '../transport/topic.naming';
import { CommandBus } from './command-bus';

describe('CommandBus options', () => {
  it('refuses a JsonSerializer at construction, saying it needs a SerializerRegistry and why', () => {
    const serializer = new JsonSerializer();
    const broker = new InMemoryBroker({ serializer });
    const router = new Router({ subscriber: broker.subscriber(), service: 'api', instanceId: 'a' });
    const create = () =>
      new CommandBus({
        publisher: broker,
        router,
        naming: topicNaming('test.'),
        serializer: serializer as unknown as SerializerRegistry,
        instanceId: 'a',
      });
    expect(create).toThrow(TypeError);
    expect(create).toThrow(
      'CommandBus: options.serializer must be a SerializerRegistry with every command type ' +
        "registered, got JsonSerializer: the bus registers its replies' type (CommandReply) in " +
        'it, and the transport must decode with that same registry to read the replies',
    );
  });

  const busWith = (options: { timeoutMs?: number; clockSkewMs?: number }) => {
    const serializer = new SerializerRegistry();
    const broker = new InMemoryBroker({ serializer });
    const router = new Router({ subscriber: broker.subscriber(), service: 'api', instanceId: 'a' });
    return () =>
      new CommandBus({
        publisher: broker,
        router,
        naming: topicNaming('test.'),
        serializer,
        instanceId: 'a',
        ...options,
      });
  };

  it.each([Number.NaN, 0, -1])(
    'refuses timeoutMs %p at construction, naming it (every request would time out at once)',
    (timeoutMs) => {
      expect(busWith({ timeoutMs })).toThrow(TypeError);
      expect(busWith({ timeoutMs })).toThrow(
        'CommandBus: options.timeoutMs must be a positive number of milliseconds up to ' +
          `2147483647, got ${timeoutMs}`,
      );
    },
  );

  it.each([Number.NaN, -1, Infinity])(
    'refuses clockSkewMs %p at construction, naming it (every deadline would count as passed)',
    (clockSkewMs) => {
      expect(busWith({ clockSkewMs })).toThrow(RangeError);
      expect(busWith({ clockSkewMs })).toThrow(
        `CommandBus: options.clockSkewMs must be a non-negative number of milliseconds, got ${clockSkewMs}`,
      );
    },
  );
});
