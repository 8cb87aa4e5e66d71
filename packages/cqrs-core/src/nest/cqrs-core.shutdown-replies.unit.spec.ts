import 'reflect-metadata';
import { Injectable, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { z } from 'zod';
import { CommandBus } from '../buses/command-bus';
import { EventBus } from '../buses/event-bus';
import { type DeadLetterQueue } from '../dead-letters/dead-letter-queue.port';
import { type Envelope } from '../messages/envelope';
import { createMessage } from '../messages/message.factory';
import { SerializerRegistry } from '../messages/serializer.registry';
import { Router } from '../router/router';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { CqrsCoreModule } from './cqrs-core.module';
import { DEAD_LETTER_QUEUE } from './cqrs-core.tokens';
import { CommandHandler, EventHandler } from './handler.decorators';

// A process manager awaits a command's reply in its event handler; its app shuts down while
// the handler is in flight. The replies must keep coming until the handler has finished.

const registry = () =>
  new SerializerRegistry()
    .register('Move', z.object({ dx: z.number() }))
    .register('Moved', z.object({ x: z.number() }));

@Injectable()
@CommandHandler('Move')
class MoveHandler {
  static runs = 0;
  execute(command: Envelope<{ dx: number }>) {
    MoveHandler.runs++;
    return { x: command.data.dx };
  }
}

@Injectable()
@EventHandler('Moved', { name: 'move-saga' })
class MoveSaga {
  static outcomes: string[] = [];
  constructor(private readonly commands: CommandBus) {}
  async handle(event: Envelope<{ x: number }>) {
    // Still working when the shutdown starts; asks for the command after it started.
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      const command = createMessage({
        type: 'Move',
        category: 'command',
        aggregateId: 'saga',
        data: { dx: event.data.x },
      });
      MoveSaga.outcomes.push(`reply ${JSON.stringify(await this.commands.request(command))}`);
    } catch (error) {
      MoveSaga.outcomes.push(`error ${(error as Error).name}`);
      throw error;
    }
  }
}

interface Shutdown {
  closeMs: number;
  deadLetters: number;
}

/** Two apps on one broker; the saga app closes while its handler awaits the reply. */
async function closeWhileAwaitingReply(): Promise<Shutdown> {
  MoveHandler.runs = 0;
  MoveSaga.outcomes = [];
  const serializer = registry();
  const broker = new InMemoryBroker({ serializer });
  const apps: INestApplication[] = [];
  const start = async (service: string, provider: new (...args: never[]) => unknown) => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CqrsCoreModule.forRoot({
          service,
          instanceId: `${service}-1`,
          publisher: broker,
          subscriber: broker.subscriber(),
          serializer,
          // Without the reply, the saga would time out and its retry would send again.
          commandTimeoutMs: 1_500,
          retry: { maxAttempts: 2, initialDelayMs: 10 },
        }),
      ],
      providers: [provider],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    await app.init();
    return app;
  };
  try {
    await start('movers', MoveHandler);
    const sagas = await start('sagas', MoveSaga);
    // The replies subscription exists before the event (as after the saga's first request).
    sagas.get(CommandBus).ensureRepliesSubscribed();
    await sagas.get(Router).subscribed('command-replies');
    await sagas
      .get(EventBus)
      .publish([
        createMessage({ type: 'Moved', category: 'event', aggregateId: 's', data: { x: 9 } }),
      ]);
    await new Promise((resolve) => setTimeout(resolve, 30)); // the saga is in flight
    const closing = Date.now();
    await sagas.close();
    const closeMs = Date.now() - closing;
    const letters = await sagas.get<DeadLetterQueue>(DEAD_LETTER_QUEUE).list({});
    return { closeMs, deadLetters: letters.length };
  } finally {
    for (const app of apps.reverse()) await app.close();
  }
}

describe('CqrsCoreModule shutdown while a handler awaits a command reply', () => {
  it('gives the handler its reply during the drain', async () => {
    await closeWhileAwaitingReply();
    expect(MoveSaga.outcomes).toEqual(['reply {"x":9}']);
  });

  it('runs the command once (no retry of the saga sends it again)', async () => {
    await closeWhileAwaitingReply();
    expect(MoveHandler.runs).toBe(1);
  });

  it('dead-letters nothing', async () => {
    const { deadLetters } = await closeWhileAwaitingReply();
    expect(deadLetters).toBe(0);
  });

  it('closes as soon as the handler finished, not after the command timeout', async () => {
    const { closeMs } = await closeWhileAwaitingReply();
    expect(closeMs).toBeLessThan(1_000);
  });
});
