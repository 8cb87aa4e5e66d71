import 'reflect-metadata';
import { Controller, Injectable, type INestApplication, Scope } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { z } from 'zod';
import { CommandBus } from '../buses/command-bus';
import { EventBus } from '../buses/event-bus';
import { QueryBus } from '../buses/query-bus';
import { type Envelope } from '../messages/envelope';
import { createMessage } from '../messages/message.factory';
import { SerializerRegistry } from '../messages/serializer.registry';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { CausewayContext, CausewayTransportServer } from './causeway.transport-strategy';
import { CqrsCoreModule } from './cqrs-core.module';
import { DEAD_LETTER_QUEUE } from './cqrs-core.tokens';
import { type DeadLetterQueue } from '../dead-letters/dead-letter-queue.port';
import { CommandHandler, EventHandler, QueryHandler } from './handler.decorators';

const serializer = () =>
  new SerializerRegistry()
    .register('Move', z.object({ dx: z.number() }))
    .register('Moved', z.object({ x: z.number() }))
    .register('Ping', z.object({ n: z.number() }));

@Injectable()
class Positions {
  readonly byTrainer = new Map<string, number>();
  readonly events: Envelope[] = [];
  slowUntil: Promise<void> | undefined;
}

@Injectable()
@CommandHandler('Move')
class MoveHandler {
  constructor(private readonly events: EventBus) {}
  async execute(command: Envelope<{ dx: number }>) {
    const moved = createMessage({
      type: 'Moved',
      category: 'event',
      aggregateId: command.aggregateId,
      data: { x: command.data.dx * 2 },
    });
    await this.events.publish([moved]);
    return { x: moved.data.x };
  }
}

@Injectable()
@EventHandler('Moved', { name: 'positions' })
class PositionsProjector {
  constructor(private readonly positions: Positions) {}
  async handle(event: Envelope<{ x: number }>) {
    await this.positions.slowUntil;
    this.positions.events.push(event);
    this.positions.byTrainer.set(event.aggregateId, event.data.x);
  }
}

@Injectable()
@QueryHandler('TrainerPosition')
class TrainerPositionQuery {
  constructor(private readonly positions: Positions) {}
  execute(query: { trainerId: string }) {
    return this.positions.byTrainer.get(query.trainerId);
  }
}

async function boot(
  broker: InMemoryBroker,
  registry: SerializerRegistry,
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      CqrsCoreModule.forRoot({
        service: 'trainer-service',
        instanceId: 'i1',
        publisher: broker,
        subscriber: broker.subscriber(),
        serializer: registry,
        retry: { maxAttempts: 2, initialDelayMs: 1 },
      }),
    ],
    providers: [Positions, MoveHandler, PositionsProjector, TrainerPositionQuery],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

const until = async (check: () => boolean) => {
  const deadline = Date.now() + 3_000;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('CqrsCoreModule', () => {
  it('wires decorated command, event and query handlers, with correlation from command to event', async () => {
    const registry = serializer();
    const broker = new InMemoryBroker({ serializer: registry });
    const app = await boot(broker, registry);
    const command = createMessage({
      type: 'Move',
      category: 'command',
      aggregateId: 'ash',
      data: { dx: 21 },
      causedBy: null,
    });
    await expect(app.get(CommandBus).request(command)).resolves.toEqual({ x: 42 });
    const positions = app.get(Positions);
    await until(() => positions.events.length === 1);
    await expect(app.get(QueryBus).execute('TrainerPosition', { trainerId: 'ash' })).resolves.toBe(
      42,
    );
    expect(positions.events[0]!.metadata).toMatchObject({
      causationId: command.messageId,
      correlationId: command.messageId,
    });
    await app.close();
  });

  it('finishes and acknowledges the delivery in flight when the app shuts down', async () => {
    const registry = serializer();
    const broker = new InMemoryBroker({ serializer: registry });
    const app = await boot(broker, registry);
    const positions = app.get(Positions);
    let release: () => void = () => undefined;
    positions.slowUntil = new Promise((resolve) => (release = resolve));
    await app
      .get(EventBus)
      .publish([
        createMessage({ type: 'Moved', category: 'event', aggregateId: 'misty', data: { x: 7 } }),
      ]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const closing = app.close();
    setTimeout(release, 50);
    await closing;
    expect(positions.byTrainer.get('misty')).toBe(7);
    expect(broker.pendingCount('events.Moved', 'trainer-service.positions')).toBe(0);
  });

  it('refuses missing options at start, naming them', async () => {
    const broker = new InMemoryBroker({ serializer: serializer() });
    const complete = {
      service: 's',
      instanceId: 'i',
      publisher: broker,
      subscriber: broker.subscriber(),
      serializer: serializer(),
    };
    for (const name of ['publisher', 'subscriber', 'serializer', 'service'] as const)
      expect(() => CqrsCoreModule.forRoot({ ...complete, [name]: undefined } as never)).toThrow(
        `CqrsCoreModule: options.${name} is required`,
      );
    await expect(
      Test.createTestingModule({
        imports: [CqrsCoreModule.forRootAsync({ useFactory: () => undefined as never })],
      }).compile(),
    ).rejects.toThrow('CqrsCoreModule: the options must be an object');
  });

  it('provides the default dead-letter queue, the one failed messages go to', async () => {
    const registry = serializer();
    const broker = new InMemoryBroker({ serializer: registry });
    const app = await boot(broker, registry);
    const queue = app.get<DeadLetterQueue>(DEAD_LETTER_QUEUE);
    expect(queue).toBeDefined();
    const command = createMessage({
      type: 'Move',
      category: 'command',
      aggregateId: 'gary',
      data: { dx: 1 },
      causedBy: null,
    });
    // The Move succeeds; the projection of its event fails for good.
    const broken = Promise.reject(new Error('the projection is broken'));
    broken.catch(() => undefined);
    app.get(Positions).slowUntil = broken;
    await app.get(CommandBus).request(command);
    const deadline = Date.now() + 3_000;
    while ((await queue.list({})).length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await queue.list({})).toEqual([
      expect.objectContaining({ reason: 'the projection is broken', handler: 'positions' }),
    ]);
    await app.close();
  });

  it('refuses a handler that is not a singleton, at start', async () => {
    @Injectable({ scope: Scope.REQUEST })
    @EventHandler('Moved', { name: 'scoped' })
    class ScopedProjector {
      async handle() {}
    }
    const broker = new InMemoryBroker({ serializer: serializer() });
    const moduleRef = await Test.createTestingModule({
      imports: [
        CqrsCoreModule.forRoot({
          service: 's',
          instanceId: 'i',
          publisher: broker,
          subscriber: broker.subscriber(),
          serializer: serializer(),
        }),
      ],
      providers: [ScopedProjector],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await expect(app.init()).rejects.toThrow(
      'ScopedProjector is a Causeway handler and must be a singleton',
    );
    await app.close().catch(() => undefined);
  });
});

@Controller()
class PingController {
  readonly seen: { n: number; topic: string }[] = [];
  @EventPattern('pings')
  onPing(@Payload() envelope: Envelope<{ n: number }>, @Ctx() context: CausewayContext) {
    this.seen.push({ n: envelope.data.n, topic: context.getDelivery().topic });
  }
}

describe('CausewayTransportServer', () => {
  it('delivers topic messages to @EventPattern handlers of a Nest microservice', async () => {
    const registry = serializer();
    const broker = new InMemoryBroker({ serializer: registry });
    const moduleRef = await Test.createTestingModule({ controllers: [PingController] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    app.connectMicroservice({
      strategy: new CausewayTransportServer({
        subscriber: broker.subscriber(),
        group: 'pinger',
        consumer: 'c1',
      }),
    });
    await app.startAllMicroservices();
    await app.init();
    await broker.publish('pings', [
      createMessage({ type: 'Ping', category: 'event', aggregateId: 'p', data: { n: 1 } }),
    ]);
    const controller = app.get(PingController);
    await until(() => controller.seen.length === 1);
    expect(controller.seen).toEqual([{ n: 1, topic: 'pings' }]);
    await app.close();
  });
});
