import { z } from 'zod';
import { CommandRejectedError } from '../buses/bus.errors';
import { CommandBus } from '../buses/command-bus';
import { createMessage } from '../messages/message.factory';
import { SerializerRegistry } from '../messages/serializer.registry';
import { Router } from '../router/router';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { topicNaming } from '../transport/topic.naming';
import { type Publisher } from '../transport/transport.port';
import { encodeForWire } from '../transport/wire.codec';
import { InMemoryDeadLetterQueue } from './in-memory.dead-letter-queue';
import { poisonToDeadLetters } from './poison.dead-letters';

// A rolling deploy: the handling service already runs a release whose Move needs `who`; a
// sender of the previous release requests a Move without it. The handler's side cannot read
// it (poison, dead-lettered at once); the sender should hear so at once, not after its timeout.

const naming = topicNaming('poison.');
const previous = () => new SerializerRegistry().register('Move', z.object({ dx: z.number() }));
const next = () =>
  new SerializerRegistry().register('Move', z.object({ dx: z.number(), who: z.string() }));

interface Deployment {
  request(timeoutMs?: number): Promise<unknown>;
  letters: InMemoryDeadLetterQueue;
  close(): Promise<void>;
}

/** `replies`: the broker itself (default), or another publisher. */
async function deploy(replies?: Pick<Publisher, 'publish'>) {
  const serializer = next();
  const letters = new InMemoryDeadLetterQueue({ serializer });
  const broker: InMemoryBroker = new InMemoryBroker({
    serializer,
    onPoison: poisonToDeadLetters(letters, {
      replies: replies ?? (() => broker),
      onDeadLetter: () => undefined,
    }),
  });
  const handlerRouter = new Router({
    subscriber: broker.subscriber(),
    service: 'movers',
    instanceId: 'm1',
  });
  new CommandBus({
    publisher: broker,
    router: handlerRouter,
    naming,
    serializer,
    instanceId: 'm1',
  }).handle('Move', () => ({ moved: true }));
  // The previous release encodes with its own schemas.
  const old = previous();
  const previousRelease: Publisher = {
    publish: async (topic, messages) => {
      for (const message of messages)
        await broker.publishRaw(topic, message.aggregateId, encodeForWire(old, message));
    },
    close: async () => undefined,
  };
  const senderRouter = new Router({
    subscriber: broker.subscriber(),
    service: 'api',
    instanceId: 'a1',
  });
  const sender = new CommandBus({
    publisher: previousRelease,
    router: senderRouter,
    naming,
    serializer: old,
    instanceId: 'a1',
  });
  sender.ensureRepliesSubscribed();
  await handlerRouter.run();
  await senderRouter.run();
  const deployment: Deployment = {
    letters,
    request: (timeoutMs = 5_000) =>
      sender.request(
        createMessage({
          type: 'Move',
          category: 'command',
          aggregateId: 'trainer-1',
          data: { dx: 1 },
        }),
        { timeoutMs },
      ),
    close: async () => {
      await senderRouter.close();
      await handlerRouter.close();
      sender.close();
      await broker.close();
    },
  };
  return deployment;
}

describe('poisonToDeadLetters with replies', () => {
  let deployment: Deployment | undefined;
  afterEach(async () => {
    await deployment?.close();
    deployment = undefined;
  });

  it("rejects the sender's request at once instead of after its timeout", async () => {
    deployment = await deploy();
    const started = Date.now();
    await deployment.request(2_000).catch(() => undefined);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('rejects it with a CommandRejectedError naming the kind of poison and the reason', async () => {
    deployment = await deploy();
    const error = await deployment.request(2_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandRejectedError);
    expect(error).toMatchObject({
      remoteName: 'NotUnderstoodMessageError',
      refused: false,
      message: expect.stringMatching(
        /could not be read by its handler's service.*MessageValidationError/,
      ),
    });
  });

  it('answers once the letter is stored: the rejected sender can find it', async () => {
    deployment = await deploy();
    const { letters } = deployment;
    const found = await deployment.request(2_000).catch(async (error: Error) => ({
      error: error.name,
      letters: await letters.list({ type: 'Move' }),
    }));
    expect(found).toEqual({
      error: 'CommandRejectedError',
      letters: [expect.objectContaining({ handler: '(decoder)', type: 'Move' })],
    });
  });
});
