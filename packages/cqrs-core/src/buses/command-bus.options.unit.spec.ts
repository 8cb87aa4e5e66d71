import { JsonSerializer } from '../messages/json.serializer';
import { type SerializerRegistry } from '../messages/serializer.registry';
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
});
