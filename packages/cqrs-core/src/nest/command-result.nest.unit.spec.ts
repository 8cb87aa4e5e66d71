import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { z } from 'zod';
import { CommandRejectedError } from '../buses/bus.errors';
import { CommandBus } from '../buses/command-bus';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { MessageFactory } from '../messages/message.factory';
import { type EnvelopeOf, type MessageResult, messageType } from '../messages/message.type';
import { SerializerRegistry } from '../messages/serializer.registry';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { CqrsCoreModule } from './cqrs-core.module';
import { CommandHandler, type ICommandHandler } from './handler.decorators';

const Open = messageType('Open', z.object({ owner: z.string() }), {
  result: z.object({ accountId: z.string() }),
});
const Close = messageType('Close', z.object({ accountId: z.string() }), {
  result: z.object({ closed: z.boolean() }),
});

@Injectable()
@CommandHandler(Open)
class OpenHandler implements ICommandHandler<EnvelopeOf<typeof Open>, MessageResult<typeof Open>> {
  execute(command: EnvelopeOf<typeof Open>) {
    return { accountId: `acc-${command.data.owner}` };
  }
}

@Injectable()
@CommandHandler(Close)
class CloseHandler implements ICommandHandler<EnvelopeOf<typeof Close>, { closed: boolean }> {
  runs = 0;
  execute() {
    this.runs++;
    return JSON.parse('{"closed":"yes"}') as { closed: boolean }; // escapes the compiler
  }
}

describe('@CommandHandler of a type that declares its result', () => {
  it('replies with checked results, and dead-letters a wrong answer naming the field', async () => {
    const registry = new SerializerRegistry().register(Open).register(Close);
    const broker = new InMemoryBroker({ serializer: registry });
    const deadLetters = new InMemoryDeadLetterQueue();
    const moduleRef = await Test.createTestingModule({
      imports: [
        CqrsCoreModule.forRoot({
          service: 'accounts',
          instanceId: 'i1',
          publisher: broker,
          subscriber: broker.subscriber(),
          serializer: registry,
          deadLetters,
          onDeadLetter: () => undefined,
          retry: { maxAttempts: 3, initialDelayMs: 1 },
        }),
      ],
      providers: [OpenHandler, CloseHandler],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const commands = app.get(CommandBus);
    const messages = new MessageFactory();

    const { accountId } = await commands.request(messages.command(Open, { owner: 'ada' }));
    expect(accountId).toBe('acc-ada');

    const error = await commands
      .request(messages.command(Close, { accountId }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandRejectedError);
    expect(error).toMatchObject({
      remoteName: 'CommandResultInvalidError',
      message: expect.stringContaining('closed: Invalid input: expected boolean'),
    });
    expect(app.get(CloseHandler).runs).toBe(1);
    expect(await deadLetters.list({ type: 'Close' })).toHaveLength(1);
    await app.close();
    await broker.close();
  });
});
