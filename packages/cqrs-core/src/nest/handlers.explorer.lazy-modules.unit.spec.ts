import 'reflect-metadata';
import { Injectable, type INestApplication, Module } from '@nestjs/common';
import { LazyModuleLoader } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { z } from 'zod';
import { CommandBus } from '../buses/command-bus';
import { EventBus } from '../buses/event-bus';
import { type Envelope } from '../messages/envelope';
import { createMessage } from '../messages/message.factory';
import { SerializerRegistry } from '../messages/serializer.registry';
import { CqrsCoreModule } from './cqrs-core.module';
import { CommandHandler, EventHandler } from './handler.decorators';
import { HandlersExplorer } from './handlers.explorer';

// Nest runs no lifecycle hook for a module LazyModuleLoader loads after the bootstrap: the
// explorer, which looks once at bootstrap, registers its handlers when asked to.

const seen: string[] = [];

@Injectable()
@EventHandler('Moved', { name: 'lazy-positions' })
class LazyPositions {
  handle(event: Envelope<{ x: number }>) {
    seen.push(`lazy:${event.data.x}`);
  }
}

@Injectable()
@CommandHandler('Move')
class LazyMoveHandler {
  execute(command: Envelope<{ dx: number }>) {
    return { x: command.data.dx };
  }
}

@Module({ providers: [LazyPositions, LazyMoveHandler] })
class LazyHandlersModule {}

let app: INestApplication;

beforeEach(async () => {
  seen.length = 0;
  const moduleRef = await Test.createTestingModule({
    imports: [
      CqrsCoreModule.forRoot({
        service: 'lazy',
        instanceId: 'lazy-1',
        transport: 'in-memory',
        serializer: new SerializerRegistry()
          .register('Move', z.object({ dx: z.number() }))
          .register('Moved', z.object({ x: z.number() })),
      }),
    ],
  }).compile();
  app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  await app.get(LazyModuleLoader).load(() => LazyHandlersModule);
});

afterEach(async () => {
  await app.close();
});

const moved = (x: number) =>
  createMessage({ type: 'Moved', category: 'event', aggregateId: 'a', data: { x } });

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
};

describe('HandlersExplorer.registerLoadedHandlers', () => {
  it("delivers events to a lazily loaded module's @EventHandler once registered", async () => {
    await app.get(HandlersExplorer).registerLoadedHandlers();
    await app.get(EventBus).publish([moved(5)]);
    await until(() => seen.length > 0);
    expect(seen).toEqual(['lazy:5']);
  });

  it("answers requests with a lazily loaded module's @CommandHandler once registered", async () => {
    await app.get(HandlersExplorer).registerLoadedHandlers();
    const command = createMessage({
      type: 'Move',
      category: 'command',
      aggregateId: 'a',
      data: { dx: 3 },
    });
    await expect(app.get(CommandBus).request(command, { timeoutMs: 2_000 })).resolves.toEqual({
      x: 3,
    });
  });

  it('names the handlers it subscribed, and skips them when called again', async () => {
    const explorer = app.get(HandlersExplorer);
    const first = (await explorer.registerLoadedHandlers()).sort();
    expect({ first, again: await explorer.registerLoadedHandlers() }).toEqual({
      first: ['commands.Move', 'lazy-positions'],
      again: [],
    });
  });
});
