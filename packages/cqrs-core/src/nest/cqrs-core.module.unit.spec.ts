import 'reflect-metadata';
import {
  Controller,
  Inject,
  Injectable,
  type INestApplication,
  Logger,
  Module,
  type ModuleMetadata,
  type Provider,
  Scope,
} from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { REQUEST } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';
import { z } from 'zod';
import { CommandBus } from '../buses/command-bus';
import { EventBus } from '../buses/event-bus';
import { QueryBus } from '../buses/query-bus';
import { type Envelope } from '../messages/envelope';
import { createMessage, MessageFactory } from '../messages/message.factory';
import { type EnvelopeOf, messageType } from '../messages/message.type';
import { SerializerRegistry } from '../messages/serializer.registry';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { topicNaming } from '../transport/topic.naming';
import { Router } from '../router/router';
import { BreakerRegistry } from '../middleware/circuit-breaker.middleware';
import { CausewayContext, CausewayTransportServer } from './causeway.transport-strategy';
import { CqrsCoreModule } from './cqrs-core.module';
import { type CqrsCoreModuleOptions } from './cqrs-core.options';
import { CQRS_CORE_OPTIONS, DEAD_LETTER_QUEUE } from './cqrs-core.tokens';
import { type DeadLetterQueue } from '../dead-letters/dead-letter-queue.port';
import { CommandRejectedError } from '../buses/bus.errors';
import {
  CommandHandler,
  EventHandler,
  type ICommandHandler,
  type IEventHandler,
  type IQueryHandler,
  QueryHandler,
} from './handler.decorators';
import { CausewayServiceModule } from './service.module';

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
  extra: Partial<CqrsCoreModuleOptions> = {},
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
        ...extra,
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

  it("runs the app's own middleware around every handler, seeing its final result", async () => {
    const registry = serializer();
    const broker = new InMemoryBroker({ serializer: registry });
    const seen: unknown[] = [];
    const app = await boot(broker, registry, {
      middleware: [
        (next, info) => async (delivery) => {
          const result = await next(delivery);
          seen.push([info.name, delivery.envelope.type, result]);
          return result;
        },
      ],
    });
    const command = createMessage({
      type: 'Move',
      category: 'command',
      aggregateId: 'ash',
      data: { dx: 1 },
      causedBy: null,
    });
    await expect(app.get(CommandBus).request(command)).resolves.toEqual({ x: 2 });
    await until(() => seen.some((entry) => (entry as string[])[0] === 'positions'));
    expect(seen).toEqual(
      expect.arrayContaining([
        [expect.stringContaining('Move'), 'Move', { x: 2 }],
        ['positions', 'Moved', undefined],
      ]),
    );
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

  it('starts its workers with the router running, and stops them, last first, before it drains', async () => {
    const log: string[] = [];
    const seen: { router?: Router } = {};
    const worker = (name: string) => ({
      start: () => void log.push(`start ${name}, router running: ${seen.router?.running}`),
      stop: async () => void log.push(`stop ${name}, router running: ${seen.router?.running}`),
    });
    const app = await appWith([], { workers: [worker('forwarder'), worker('projections')] });
    seen.router = app.get(Router);
    await app.init();
    await app.close();
    expect(log).toEqual([
      'start forwarder, router running: true',
      'start projections, router running: true',
      'stop projections, router running: true',
      'stop forwarder, router running: true',
    ]);
  });

  it('still drains, acknowledges and closes when a worker fails to stop, and logs the failure', async () => {
    const failed = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      const registry = serializer();
      const broker = new InMemoryBroker({ serializer: registry });
      const closed: string[] = [];
      const app = await boot(broker, registry, {
        workers: [
          {
            start: () => undefined,
            stop: () => Promise.reject(new Error('checkpoint store down')),
          },
        ],
        closeOnShutdown: [{ close: async () => void closed.push('redis') }],
      });
      const positions = app.get(Positions);
      let release: () => void = () => undefined;
      positions.slowUntil = new Promise((resolve) => (release = resolve));
      await app
        .get(EventBus)
        .publish([
          createMessage({ type: 'Moved', category: 'event', aggregateId: 'erika', data: { x: 5 } }),
        ]);
      await until(() => broker.pendingCount('events.Moved', 'trainer-service.positions') === 1);
      const closing = app.close();
      setTimeout(release, 50);
      await closing;
      expect(positions.byTrainer.get('erika')).toBe(5);
      expect(broker.pendingCount('events.Moved', 'trainer-service.positions')).toBe(0);
      expect(closed).toEqual(['redis']);
      expect(failed.mock.calls.map(([message]) => String(message))).toContainEqual(
        expect.stringContaining('checkpoint store down'),
      );
    } finally {
      failed.mockRestore();
    }
  });

  it('warns at start of an @EventHandler without a name, its group named after the class', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      class Unnamed {
        handle() {}
      }
      EventHandler('Moved')(Unnamed);
      Injectable()(Unnamed);
      const app = await appWith([Unnamed]);
      await app.init();
      await app.close();
      expect(warn.mock.calls.map(([message]) => String(message))).toContain(
        '@EventHandler Unnamed has no name: its consumer group is named after the class, so ' +
          'renaming it (or a minifier) starts a new group that consumes every event again. ' +
          "Give it one: @EventHandler(types, { name: '…' })",
      );
    } finally {
      warn.mockRestore();
    }
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
    for (const name of ['serializer', 'service', 'instanceId'] as const)
      expect(() => CqrsCoreModule.forRoot({ ...complete, [name]: undefined } as never)).toThrow(
        `CqrsCoreModule: options.${name} is required`,
      );
    await expect(
      Test.createTestingModule({
        imports: [CqrsCoreModule.forRootAsync({ useFactory: () => undefined as never })],
      }).compile(),
    ).rejects.toThrow('CqrsCoreModule: the options must be an object');
  });

  it("runs on an in-process broker when told transport: 'in-memory', and closes it with the app", async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CqrsCoreModule.forRoot({
          service: 'embedded',
          instanceId: 'e1',
          serializer: serializer(),
          transport: 'in-memory',
        }),
      ],
      providers: [Positions, MoveHandler, PositionsProjector, TrainerPositionQuery],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const command = createMessage({
      type: 'Move',
      category: 'command',
      aggregateId: 'ash',
      data: { dx: 2 },
    });
    expect(await app.get(CommandBus).request(command, { timeoutMs: 2_000 })).toEqual({ x: 4 });
    const positions = app.get(Positions);
    await until(() => positions.byTrainer.get('ash') === 4);
    expect(positions.byTrainer.get('ash')).toBe(4);
    const broker = app.get<{ publisher: InMemoryBroker }>(CQRS_CORE_OPTIONS).publisher;
    expect(broker).toBeInstanceOf(InMemoryBroker);
    await app.close();
    expect(broker.isClosed).toBe(true);
  });

  it("refuses neither publisher nor subscriber without transport: 'in-memory', at start", async () => {
    // A production app whose transport options came out undefined ran on an in-process bus:
    // its commands and events never left the process, and nothing said so.
    const base = { service: 's', instanceId: 'i', serializer: serializer() };
    const expected =
      'CqrsCoreModule: options.publisher and options.subscriber are required (a transport: ' +
      "Redis Streams, Kafka), or transport: 'in-memory' for an in-process broker " +
      '(one process, nothing kept)';
    expect(() => CqrsCoreModule.forRoot(base)).toThrow(expected);
    expect(() =>
      CqrsCoreModule.forRoot({ ...base, publisher: undefined, subscriber: undefined }),
    ).toThrow(expected);
    await expect(
      Test.createTestingModule({
        imports: [CqrsCoreModule.forRootAsync({ useFactory: async () => base })],
      }).compile(),
    ).rejects.toThrow(expected);
    expect(() => CqrsCoreModule.forRoot({ ...base, transport: 'redis' as never })).toThrow(
      `CqrsCoreModule: options.transport must be 'in-memory' or unset, got "redis"`,
    );
  });

  it("refuses transport: 'in-memory' beside a publisher or subscriber, naming both", () => {
    const broker = new InMemoryBroker({ serializer: serializer() });
    const base = {
      service: 's',
      instanceId: 'i',
      serializer: serializer(),
      transport: 'in-memory' as const,
    };
    expect(() =>
      CqrsCoreModule.forRoot({ ...base, publisher: broker, subscriber: broker.subscriber() }),
    ).toThrow(
      "CqrsCoreModule: options.transport: 'in-memory' builds its own broker: give it without " +
        'options.publisher and options.subscriber, or them without it',
    );
  });

  it('refuses a publisher without a subscriber (or the reverse), naming both', () => {
    const broker = new InMemoryBroker({ serializer: serializer() });
    const base = { service: 's', instanceId: 'i', serializer: serializer() };
    expect(() => CqrsCoreModule.forRoot({ ...base, publisher: broker })).toThrow(
      'CqrsCoreModule: options.subscriber is required with options.publisher (give both, or ' +
        "neither with transport: 'in-memory' for an in-process broker)",
    );
    expect(() => CqrsCoreModule.forRoot({ ...base, subscriber: broker.subscriber() })).toThrow(
      'CqrsCoreModule: options.publisher is required with options.subscriber',
    );
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

  it("dead-letters at once an error the app's retry.classify calls permanent, its breaker closed", async () => {
    // A review (session 35): deadLetter and the breaker judged it by the default classifier
    // (transient): redelivered for ever, never dead-lettered, and the handler's circuit opened.
    const registry = serializer();
    const broker = new InMemoryBroker({ serializer: registry });
    const app = await boot(broker, registry, {
      retry: {
        maxAttempts: 3,
        initialDelayMs: 1,
        classify: (error) =>
          (error as Error)?.message?.startsWith('E11000') ? 'permanent' : 'transient',
      },
      circuitBreaker: { failureThreshold: 2, halfOpenAfterMs: 60_000 },
    });
    let calls = 0;
    Object.defineProperty(app.get(Positions), 'slowUntil', {
      get: () => {
        calls++;
        const duplicate = Promise.reject(new Error('E11000 duplicate key error'));
        duplicate.catch(() => undefined);
        return duplicate;
      },
    });
    await app.get(EventBus).publish([
      createMessage({
        type: 'Moved',
        category: 'event',
        aggregateId: 'gary',
        data: { x: 1 },
        causedBy: null,
      }),
    ]);
    const queue = app.get<DeadLetterQueue>(DEAD_LETTER_QUEUE);
    const deadline = Date.now() + 3_000;
    while ((await queue.list({})).length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 200)); // no redelivery comes
    expect(await queue.list({})).toEqual([
      expect.objectContaining({ reason: 'E11000 duplicate key error', attempts: 1 }),
    ]);
    expect(calls).toBe(1);
    expect(app.get(BreakerRegistry).states()).toMatchObject({ positions: 'closed' });
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

  it('refuses a request-scoped handler provided by a factory under its class, at start, naming it', async () => {
    // A factory provider has no instance here (Nest calls it per request) and its metatype is
    // the factory: such a handler was skipped, never called, and nothing said so.
    @EventHandler('Moved', { name: 'scoped-factory' })
    class ScopedFactoryProjector {
      async handle() {}
    }
    const app = await appWith([
      {
        provide: ScopedFactoryProjector,
        scope: Scope.REQUEST,
        useFactory: () => new ScopedFactoryProjector(),
      },
    ]);
    await expect(app.init()).rejects.toThrow(
      'ScopedFactoryProjector is a Causeway handler and must be a singleton',
    );
    await app.close().catch(() => undefined);
  });

  it.each([
    ['a string', 'PROJECTOR', Scope.REQUEST],
    ['a symbol', Symbol('projector'), Scope.TRANSIENT],
  ] as const)(
    'refuses a handler provided by a factory under %s token, not a singleton, at start, naming it',
    async (_kind, token, scope) => {
      // Nothing but the instance tells it is a handler, and there is none until a request.
      @EventHandler('Moved', { name: 'scoped-token-factory' })
      class TokenFactoryProjector {
        async handle() {}
      }
      const app = await appWith([
        { provide: token, scope, useFactory: () => new TokenFactoryProjector() },
      ]);
      await expect(app.init()).rejects.toThrow(
        'TokenFactoryProjector is a Causeway handler and must be a singleton',
      );
      await app.close().catch(() => undefined);
    },
  );

  it('starts beside request-scoped factories under a token that build no handler', async () => {
    const app = await appWith([
      { provide: 'CLOCK', scope: Scope.REQUEST, useFactory: () => ({ now: () => 0 }) },
      // One that cannot be built outside a request: it is not taken for a handler.
      {
        provide: 'CALLER',
        scope: Scope.REQUEST,
        inject: [REQUEST],
        useFactory: (req: { headers: Record<string, string> }) => req.headers['x-caller'],
      },
    ]);
    await app.init();
    await app.close();
  });

  /**
   * Starts an app with these handlers (classes, or any provider) and modules over the in-memory
   * broker (init may reject).
   */
  async function appWith(
    handlers: Provider[],
    options: Pick<CqrsCoreModuleOptions, 'commandTopics' | 'workers'> = {},
    modules: NonNullable<ModuleMetadata['imports']> = [],
  ) {
    const registry = serializer();
    const broker = new InMemoryBroker({ serializer: registry });
    const moduleRef = await Test.createTestingModule({
      imports: [
        CqrsCoreModule.forRoot({
          service: 's',
          instanceId: 'i',
          publisher: broker,
          subscriber: broker.subscriber(),
          serializer: registry,
          ...options,
        }),
        ...modules,
      ],
      providers: handlers,
    }).compile();
    return moduleRef.createNestApplication({ logger: false });
  }

  it.each([
    [
      'a command',
      class MoveWithTypo {
        excute() {}
      },
      CommandHandler('Move'),
      'MoveWithTypo is decorated with @CommandHandler but has no execute method: the bus calls execute(command, delivery)',
    ],
    [
      'an event',
      class ProjectorWithoutHandle {
        handler() {}
      },
      EventHandler('Moved'),
      'ProjectorWithoutHandle is decorated with @EventHandler but has no handle method: the bus calls handle(event, delivery)',
    ],
    [
      'a query',
      class QueryWithoutExecute {
        run() {}
      },
      QueryHandler('TrainerPosition'),
      'QueryWithoutExecute is decorated with @QueryHandler but has no execute method: the bus calls execute(query)',
    ],
  ])(
    'refuses to start with %s handler that lacks the method the bus calls, naming the class and the method',
    async (_kind, handler, decorate, message) => {
      decorate(handler);
      Injectable()(handler);
      const app = await appWith([handler]);
      await expect(app.init()).rejects.toThrow(message);
      await app.close().catch(() => undefined);
    },
  );

  it('registers handlers provided by a factory or as a value, as those provided by their class', async () => {
    const positions = new Positions();
    const app = await appWith([
      {
        provide: 'MOVES',
        inject: [EventBus],
        useFactory: (events: EventBus) => new MoveHandler(events),
      },
      { provide: 'PROJECTOR', useValue: new PositionsProjector(positions) },
      { provide: 'POSITION', useFactory: () => new TrainerPositionQuery(positions) },
    ]);
    await app.init();
    const command = createMessage({
      type: 'Move',
      category: 'command',
      aggregateId: 'brock',
      data: { dx: 3 },
    });
    await expect(app.get(CommandBus).request(command, { timeoutMs: 2_000 })).resolves.toEqual({
      x: 6,
    });
    await until(() => positions.events.length === 1);
    await expect(
      app.get(QueryBus).execute('TrainerPosition', { trainerId: 'brock' }),
    ).resolves.toBe(6);
    await app.close();
  });

  it.each([
    ['command', MoveHandler],
    ['event', PositionsProjector],
    ['query', TrainerPositionQuery],
  ])(
    'refuses to start a %s handler class provided in two modules, naming the class and both modules',
    async (_kind, handler) => {
      @Module({ providers: [Positions, handler], exports: [Positions] })
      class GameModule {}
      @Module({ imports: [GameModule], providers: [handler] })
      class ArenaModule {}
      const app = await appWith([], {}, [GameModule, ArenaModule]);
      await expect(app.init()).rejects.toThrow(
        `${handler.name} is provided in GameModule and in ArenaModule: each would handle ` +
          'the messages as a handler of its own. Provide it in one module',
      );
      await app.close().catch(() => undefined);
    },
  );

  it('refuses to start two @EventHandlers of one name, naming both classes', async () => {
    @Injectable()
    @EventHandler('Moved', { name: 'positions' })
    class PositionsProjector {
      handle() {}
    }
    @Injectable()
    @EventHandler('Moved', { name: 'positions' })
    class PositionsAudit {
      handle() {}
    }
    const app = await appWith([PositionsProjector, PositionsAudit]);
    await expect(app.init()).rejects.toThrow(
      '@EventHandler PositionsAudit is named "positions", as PositionsProjector is: the name ' +
        'names the consumer group (the events it has handled), so each handler needs its own.',
    );
    await app.close().catch(() => undefined);
  });

  it('refuses to start a handler whose dependencies Nest could not inject, naming the class', async () => {
    class Ledger {}
    // As tsx or esbuild build it: decorators applied, no design:paramtypes for the constructor.
    class DepositHandler {
      constructor(readonly ledger: Ledger) {}
      execute() {
        return this.ledger;
      }
    }
    CommandHandler('Move')(DepositHandler);
    Injectable()(DepositHandler);
    const app = await appWith([DepositHandler]);
    await expect(app.init()).rejects.toThrow(
      'DepositHandler takes 1 constructor parameter(s) but has no injection metadata, so Nest ' +
        'passed undefined for each: compile with emitDecoratorMetadata',
    );
    await app.close().catch(() => undefined);

    // With @Inject on the parameter it starts, and gets the dependency.
    class InjectedHandler {
      constructor(readonly ledger: Ledger) {}
      execute() {
        return this.ledger;
      }
    }
    Inject(Ledger)(InjectedHandler, undefined as never, 0);
    CommandHandler('Move')(InjectedHandler);
    Injectable()(InjectedHandler);
    const fine = await appWith([InjectedHandler, Ledger]);
    await fine.init();
    expect(fine.get(InjectedHandler).ledger).toBeInstanceOf(Ledger);
    await fine.close();
  });

  it('lets the compiler check handler classes through ICommandHandler / IEventHandler / IQueryHandler', async () => {
    // Message types (ADR 012) give the decorators the names and the handlers their types.
    const MoveType = messageType('Move', z.object({ dx: z.number() }));
    const MovedType = messageType('Moved', z.object({ x: z.number() }));
    @Injectable()
    @CommandHandler(MoveType)
    class Move implements ICommandHandler<EnvelopeOf<typeof MoveType>, { x: number }> {
      execute(command: EnvelopeOf<typeof MoveType>) {
        return { x: command.data.dx };
      }
    }
    @Injectable()
    @EventHandler([MovedType], { name: 'typed' })
    class Projector implements IEventHandler<EnvelopeOf<typeof MovedType>> {
      readonly seen: number[] = [];
      handle(event: EnvelopeOf<typeof MovedType>) {
        this.seen.push(event.data.x);
      }
    }
    @Injectable()
    @QueryHandler('Echo')
    class Echo implements IQueryHandler<{ n: number }, number> {
      execute(query: { n: number }) {
        return query.n;
      }
    }
    // A misspelt method is a compile error (tsc checks these directives in the spec files).
    // @ts-expect-error execute is missing
    class Misspelt implements ICommandHandler {
      excute() {}
    }
    // @ts-expect-error handle is missing
    class NoHandle implements IEventHandler {}
    void [Misspelt, NoHandle];

    const app = await appWith([Move, Projector, Echo]);
    await app.init();
    const command = createMessage({
      type: 'Move',
      category: 'command',
      aggregateId: 'ash',
      data: { dx: 3 },
      causedBy: null,
    });
    await expect(app.get(CommandBus).request(command)).resolves.toEqual({ x: 3 });
    await expect(app.get(QueryBus).execute('Echo', { n: 5 })).resolves.toBe(5);
    await app
      .get(EventBus)
      .publish([new MessageFactory().event(MovedType, { x: 7 }, { aggregateId: 'ash' })]);
    await until(() => app.get(Projector).seen.length > 0);
    expect(app.get(Projector).seen).toEqual([7]);
    await app.close();
  });

  it.each([
    [
      'query',
      QueryHandler('TrainerPosition'),
      'SecondPositionQuery cannot handle query TrainerPosition: FirstPositionQuery already does (a query has exactly one handler)',
    ],
    [
      'command',
      CommandHandler('Move'),
      'SecondPositionQuery cannot handle command Move: FirstPositionQuery already does (a command has exactly one handler)',
    ],
  ])(
    'refuses to start with a %s type handled twice, naming both handler classes',
    async (_kind, decorate, message) => {
      @Injectable()
      class FirstPositionQuery {
        execute() {
          return 1;
        }
      }
      @Injectable()
      class SecondPositionQuery {
        execute() {
          return 2;
        }
      }
      decorate(FirstPositionQuery);
      decorate(SecondPositionQuery);
      const app = await appWith([FirstPositionQuery, SecondPositionQuery]);
      await expect(app.init()).rejects.toThrow(message);
      await app.close().catch(() => undefined);
    },
  );

  it('refuses an @EventHandler of a type the serializer does not know, naming the class', async () => {
    @Injectable()
    @EventHandler('Mvoed', { name: 'positions-typo' })
    class TypoProjector implements IEventHandler {
      async handle() {}
    }
    const app = await appWith([TypoProjector]);
    const error = await app.init().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    await app.close().catch(() => undefined);
    expect(error?.message).toMatch(/^@EventHandler TypoProjector: .*Mvoed/);
  });

  it('refuses a @CommandHandler of types on different topics, naming the class and commandTopics', async () => {
    @Injectable()
    @CommandHandler(['Move', 'Ping'])
    class TrainerCommands implements ICommandHandler {
      execute() {}
    }
    const app = await appWith([TrainerCommands]);
    await expect(app.init()).rejects.toThrow(
      /^@CommandHandler TrainerCommands: .*one handler takes the types of one topic.*\(CqrsCoreModule\.forRoot\(\{ commandTopics \}\)\)$/,
    );
    await app.close().catch(() => undefined);
  });

  it('with commandTopics, one @CommandHandler of several types handles a key in send order', async () => {
    const handled: string[] = [];
    let releaseFirst: () => void = () => undefined;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    @Injectable()
    @CommandHandler(['Move', 'Ping'])
    class TrainerCommands implements ICommandHandler {
      async execute(command: Envelope) {
        // The first command (a Move) is slow: the Ping sent after it must wait for it.
        if (handled.length === 0) await firstHeld;
        handled.push(command.type);
        return command.type;
      }
    }
    const app = await appWith([TrainerCommands], {
      commandTopics: { Move: 'Trainer', Ping: 'Trainer' },
    });
    await app.init();
    try {
      const commands = app.get(CommandBus);
      expect(commands.topicOf('Ping')).toBe('commands.Trainer');
      const send = (type: string, data: unknown) =>
        commands.request(
          createMessage({ type, category: 'command', aggregateId: 'ash', data, causedBy: null }),
        );
      const move = send('Move', { dx: 1 });
      const ping = send('Ping', { n: 1 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(handled).toEqual([]);
      releaseFirst();
      await expect(Promise.all([move, ping])).resolves.toEqual(['Move', 'Ping']);
      expect(handled).toEqual(['Move', 'Ping']);
    } finally {
      await app.close();
    }
  });

  it('counts retries in causeway_messages_retried_total also when the app has its own onRetry hook', async () => {
    @Injectable()
    @CommandHandler('Move')
    class FailingMove {
      execute(): never {
        throw new Error('the map is down');
      }
    }
    for (const hooked of [false, true]) {
      const registry = serializer();
      const broker = new InMemoryBroker({ serializer: registry });
      const metrics = new Registry();
      const retries: string[] = [];
      const moduleRef = await Test.createTestingModule({
        imports: [
          CausewayServiceModule.forRoot(
            { service: 's', instanceId: 'i', logLevel: 'silent' },
            metrics,
          ),
          CqrsCoreModule.forRoot({
            service: 's',
            instanceId: 'i',
            publisher: broker,
            subscriber: broker.subscriber(),
            serializer: registry,
            retry: {
              maxAttempts: 3,
              initialDelayMs: 1,
              ...(hooked && { onRetry: (event) => retries.push(`${event.type}#${event.attempt}`) }),
            },
          }),
        ],
        providers: [FailingMove],
      }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      await app.init();
      const command = createMessage({
        type: 'Move',
        category: 'command',
        aggregateId: 'ash',
        data: { dx: 1 },
        causedBy: null,
      });
      await expect(app.get(CommandBus).request(command)).rejects.toThrow(CommandRejectedError);
      const scraped = await request(app.getHttpServer()).get('/metrics');
      expect(scraped.text).toMatch(
        /causeway_messages_retried_total\{topic="commands\.Move",handler="commands\.Move",type="Move",[^}]*\} 2\n/,
      );
      expect(retries).toEqual(hooked ? ['Move#1', 'Move#2'] : []);
      await app.close();
    }
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
  /** A Nest microservice whose PingController listens, in group `pinger`, on an in-memory broker. */
  async function pingerService() {
    const broker = new InMemoryBroker({ serializer: serializer() });
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
    return { broker, app };
  }

  it('delivers topic messages to @EventPattern handlers of a Nest microservice', async () => {
    const { broker, app } = await pingerService();
    await broker.publish('pings', [
      createMessage({ type: 'Ping', category: 'event', aggregateId: 'p', data: { n: 1 } }),
    ]);
    const controller = app.get(PingController);
    await until(() => controller.seen.length === 1);
    expect(controller.seen).toEqual([{ n: 1, topic: 'pings' }]);
    await app.close();
  });
  it("acknowledges unhandled a dead letter's replay meant for another group", async () => {
    const { broker, app } = await pingerService();
    const ping = (n: number, replayFor?: string) => {
      const message = createMessage({
        type: 'Ping',
        category: 'event',
        aggregateId: 'p',
        data: { n },
      });
      return replayFor ? { ...message, metadata: { ...message.metadata, replayFor } } : message;
    };
    // One key, in order: once 3 is seen, 1 and 2 were settled before it.
    await broker.publish('pings', [ping(1, 'billing'), ping(2, 'pinger'), ping(3)]);
    const controller = app.get(PingController);
    await until(() => controller.seen.length === 2);
    expect(controller.seen.map((seen) => seen.n)).toEqual([2, 3]);
    await app.close();
  });
  it("lets a pattern handler in flight at shutdown publish through CqrsCoreModule's bus, then acknowledges it", async () => {
    const registry = serializer();
    const broker = new InMemoryBroker({ serializer: registry });
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const outcomes: string[] = [];
    @Controller()
    class Relay {
      constructor(@Inject(EventBus) private readonly events: EventBus) {}
      @EventPattern('pings')
      async onPing(@Payload() envelope: Envelope<{ n: number }>) {
        entered();
        await gate;
        await this.events
          .publish([
            createMessage({
              type: 'Moved',
              category: 'event',
              aggregateId: envelope.aggregateId,
              data: { x: envelope.data.n },
            }),
          ])
          .then(
            () => outcomes.push('published'),
            (error: Error) => outcomes.push(`failed: ${error.message}`),
          );
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [
        CqrsCoreModule.forRoot({
          service: 's',
          instanceId: 'i',
          publisher: broker,
          subscriber: broker.subscriber(),
          serializer: registry,
        }),
      ],
      controllers: [Relay],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    app.connectMicroservice({
      strategy: new CausewayTransportServer({
        subscriber: broker.subscriber(),
        group: 'relay',
        consumer: 'c1',
      }),
    });
    await app.startAllMicroservices();
    await app.init();
    await broker.publish('pings', [
      createMessage({ type: 'Ping', category: 'event', aggregateId: 'p', data: { n: 4 } }),
    ]);
    await inHandler;
    const closing = app.close();
    setTimeout(release, 50);
    await closing;
    expect(outcomes).toEqual(['published']);
    expect(broker.pendingCount('pings', 'relay')).toBe(0);
  });

  it('closes the subscriber it was given when the app closes, releasing what listen() started', async () => {
    const registry = serializer();
    const broker = new InMemoryBroker({ serializer: registry });
    const subscriber = broker.subscriber();
    // What a transport's subscriber holds beyond its subscriptions (a Redis subscriber's
    // blocking-read connections): released only by its close().
    await subscriber.subscribe(['other'], { group: 'g', consumer: 'c' }, async () => {});
    const moduleRef = await Test.createTestingModule({ controllers: [PingController] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    app.connectMicroservice({
      strategy: new CausewayTransportServer({ subscriber, group: 'pinger', consumer: 'c1' }),
    });
    await app.startAllMicroservices();
    await app.init();
    await app.close();
    await broker.publish('other', [
      createMessage({ type: 'Ping', category: 'event', aggregateId: 'p', data: { n: 2 } }),
    ]);
    // The closed subscriber takes nothing any more: the message waits for the group.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(broker.pendingCount('other', 'g')).toBe(1);
  });
});

describe('@EventHandler startFrom', () => {
  @Injectable()
  class Seen {
    readonly earliest: number[] = [];
    readonly latest: number[] = [];
  }

  @Injectable()
  @EventHandler('Ping', { name: 'from-earliest', mode: 'fan-out', startFrom: 'earliest' })
  class FromEarliest {
    constructor(private readonly seen: Seen) {}
    handle(event: Envelope<{ n: number }>) {
      this.seen.earliest.push(event.data.n);
    }
  }

  @Injectable()
  @EventHandler('Ping', { name: 'from-latest', mode: 'fan-out' })
  class FromLatest {
    constructor(private readonly seen: Seen) {}
    handle(event: Envelope<{ n: number }>) {
      this.seen.latest.push(event.data.n);
    }
  }

  it("lets a fan-out handler's new group start from the earliest event, as EventBus.on does", async () => {
    const registry = serializer();
    const broker = new InMemoryBroker({ serializer: registry });
    const ping = (n: number) =>
      createMessage({ type: 'Ping', category: 'event', aggregateId: 'p', data: { n } });
    // Published before the app (its fan-out groups) started.
    await broker.publish(topicNaming('t.').event('Ping'), [ping(1)]);
    const moduleRef = await Test.createTestingModule({
      imports: [
        CqrsCoreModule.forRoot({
          service: 'pinger',
          instanceId: 'i1',
          topicPrefix: 't.',
          publisher: broker,
          subscriber: broker.subscriber(),
          serializer: registry,
        }),
      ],
      providers: [Seen, FromEarliest, FromLatest],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    await app.get(EventBus).publish([ping(2)]);
    const seen = app.get(Seen);
    await until(() => seen.earliest.length === 2 && seen.latest.length === 1);
    expect({ earliest: seen.earliest, latest: seen.latest }).toEqual({
      earliest: [1, 2],
      latest: [2],
    });
    await app.close();
  });
});
