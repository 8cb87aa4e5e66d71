import { testNamespace } from '@causeway/testkit';
import { z } from 'zod';
import {
  CommandBus,
  CommandRejectedError,
  createMessage,
  InMemoryDeadLetterQueue,
  poisonToDeadLetters,
  Router,
  SerializerRegistry,
  topicNaming,
} from '../src';
import { RedisStreamsPublisher, RedisStreamsSubscriber, redisConnection } from '../src/redis';

// A rolling deploy over Redis Streams: the handling service runs a release whose Move needs
// `who`; a sender of the previous release requests a Move without it. The handler's subscriber
// cannot read it and dead-letters it as poison; with `replies`, the sender hears so at once.

const ns = testNamespace('poisoncmd');
const redis = redisConnection({ url: ns.redisUrl, name: 'poison-command' });
const layout = { keyPrefix: ns.keyPrefix, partitions: 1 };
const naming = topicNaming('poison.');
const closers: (() => Promise<void> | void)[] = [];

async function service(
  name: string,
  serializer: SerializerRegistry,
  handles: boolean,
): Promise<{ bus: CommandBus; letters: InMemoryDeadLetterQueue }> {
  const letters = new InMemoryDeadLetterQueue({ serializer });
  const publisher = new RedisStreamsPublisher({ client: redis.client, serializer, ...layout });
  const subscriber = new RedisStreamsSubscriber({
    client: redis.client,
    serializer,
    ...layout,
    blockMs: 100,
    heartbeatMs: 100,
    leaseTtlMs: 400,
    onPoison: poisonToDeadLetters(letters, { replies: publisher, onDeadLetter: () => undefined }),
  });
  const router = new Router({ subscriber, service: name, instanceId: `${name}-${ns.id}` });
  const bus = new CommandBus({
    publisher,
    router,
    naming,
    serializer,
    instanceId: `${name}-${ns.id}`,
  });
  if (handles) bus.handle('Move', () => ({ moved: true }));
  else bus.ensureRepliesSubscribed();
  closers.push(async () => {
    await router.close();
    bus.close();
    await subscriber.close();
    await publisher.close();
  });
  await router.run();
  return { bus, letters };
}

const request = (bus: CommandBus) =>
  bus.request(
    createMessage({ type: 'Move', category: 'command', aggregateId: 'trainer-1', data: { dx: 1 } }),
    { timeoutMs: 8_000 },
  );

let handler: { letters: InMemoryDeadLetterQueue };
let sender: { bus: CommandBus };

beforeAll(async () => {
  await redis.open();
  handler = await service(
    'movers',
    new SerializerRegistry().register('Move', z.object({ dx: z.number(), who: z.string() })),
    true,
  );
  sender = await service(
    'api',
    new SerializerRegistry().register('Move', z.object({ dx: z.number() })),
    false,
  );
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  const keys = await redis.client.keys(`${ns.keyPrefix}*`);
  if (keys.length > 0) await redis.client.del(...keys);
  await redis.close();
});

describe('a command its handler cannot decode, over Redis Streams', () => {
  jest.setTimeout(30_000);

  it("rejects the sender's request long before its timeout, naming the reason", async () => {
    const started = Date.now();
    const error = await request(sender.bus).catch((e: unknown) => e);
    expect({ error, early: Date.now() - started < 4_000 }).toEqual({
      error: expect.objectContaining({
        name: 'CommandRejectedError',
        remoteName: 'NotUnderstoodMessageError',
        message: expect.stringContaining('MessageValidationError'),
      }),
      early: true,
    });
    expect(error).toBeInstanceOf(CommandRejectedError);
  });

  it('has dead-lettered the command when the sender learns of it', async () => {
    const before = (await handler.letters.list({ type: 'Move' })).length;
    const outcome = await request(sender.bus).catch(async (error: Error) => ({
      error: error.name,
      letters: (await handler.letters.list({ type: 'Move' })).length,
    }));
    expect(outcome).toEqual({ error: 'CommandRejectedError', letters: before + 1 });
  });
});
