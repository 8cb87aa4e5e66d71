import 'reflect-metadata';
import { type IncomingMessage } from 'node:http';
import {
  CommandBus,
  commandHandler,
  type Envelope,
  EventBus,
  EventForwarder,
  type EventStore,
  InMemoryBroker,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  MessageFactory,
  InMemoryDeadLetterQueue,
  MessageValidationError,
  PermanentError,
  QueryBus,
  deadLetter,
  retry,
  queryType,
  SerializerRegistry,
  topicNaming,
} from '@causeway/cqrs-core';
import {
  CausewayContext,
  CausewayTransportServer,
  CommandHandler,
  CqrsCoreModule,
  EVENT_STORE,
  EventHandler,
  HandlersExplorer,
  type ICommandHandler,
  type IEventHandler,
  type IQueryHandler,
  KeepRpcErrors,
  parseBodies,
  ProblemException,
  problemType,
  QueryHandler,
  UNREAD_BODIES,
} from '@causeway/cqrs-core/nest';
import {
  Body,
  Controller,
  HttpCode,
  Inject,
  Injectable,
  Module,
  Post,
  Req,
  UseFilters,
} from '@nestjs/common';
import { LazyModuleLoader } from '@nestjs/core';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { z } from 'zod';
import { account } from './account.domain';

// #region guide:nest-handlers
const serializer = new SerializerRegistry()
  .register('Deposit', z.object({ amount: z.number() }))
  .register('AccountOpened', z.object({ owner: z.string() }))
  .register('MoneyDeposited', z.object({ amount: z.number() }));
const broker = new InMemoryBroker({ serializer }); // RedisStreams… / Kafka… in production
const store = new InMemoryEventStore({ serializer }); // MongoEventStore / RedisEventStore
const naming = topicNaming('bank.');
// A typed query: the compiler checks what callers pass and what the handler answers.
const Balance = queryType('Balance', z.object({ accountId: z.string() })).returns<number>();
// The outbox: what the handlers append reaches the bus at least once, in stream order.
const forwarder = new EventForwarder({
  store,
  publisher: broker,
  checkpoints: new InMemoryCheckpointStore(), // MongoCheckpointStore / RedisCheckpointStore
  topicOf: (event) => naming.event(event.type),
});

@Injectable()
class Balances {
  readonly byAccount = new Map<string, number>();
}

@Injectable()
@CommandHandler('Deposit')
class DepositHandler implements ICommandHandler<Envelope<{ amount: number }>, number> {
  private readonly handle;
  constructor(@Inject(EVENT_STORE) store: EventStore) {
    this.handle = commandHandler(store, account, { aggregateType: 'Account' });
  }

  async execute(command: Envelope<{ amount: number }>): Promise<number> {
    const id = command.aggregateId;
    await this.handle(id, { type: 'OpenAccount', data: { owner: id } });
    const result = await this.handle(id, { type: 'Deposit', data: command.data });
    return result.newState.balance; // its events reach the bus through the forwarder
  }
}

@Injectable()
@EventHandler('MoneyDeposited', { name: 'balances' }) // competing by default
class BalancesProjector implements IEventHandler<Envelope<{ amount: number }>> {
  constructor(private readonly balances: Balances) {}
  handle(event: Envelope<{ amount: number }>): void {
    const before = this.balances.byAccount.get(event.aggregateId) ?? 0;
    this.balances.byAccount.set(event.aggregateId, before + event.data.amount);
  }
}

@Injectable()
@QueryHandler(Balance) // or a name: @QueryHandler('Balance')
class BalanceQuery implements IQueryHandler<{ accountId: string }, number> {
  constructor(private readonly balances: Balances) {}
  execute(query: { accountId: string }): number {
    return this.balances.byAccount.get(query.accountId) ?? 0;
  }
}

@Module({
  imports: [
    CqrsCoreModule.forRoot({
      service: 'accounts',
      instanceId: 'accounts-1',
      publisher: broker,
      subscriber: broker.subscriber(),
      serializer,
      eventStore: store, // initialised before the first delivery; @Inject(EVENT_STORE)
      topicPrefix: 'bank.',
      retry: { maxAttempts: 3 },
      workers: [forwarder], // started with the app, stopped before the router drains
    }),
  ],
  providers: [Balances, DepositHandler, BalancesProjector, BalanceQuery],
})
class AccountsModule {}
// #endregion

@Controller('api/invoices')
class InvoicesController {
  @Post()
  @HttpCode(201)
  create(@Req() req: IncomingMessage, @Body() body: unknown): { received: unknown } {
    if (req.headers.authorization !== 'Bearer t0ken')
      throw new ProblemException({
        type: problemType('unauthenticated'),
        title: 'Unauthorized',
        status: 401,
        detail: 'a bearer token is required',
      });
    return { received: body };
  }
}

// #region guide:nest-unread-bodies
@Module({
  controllers: [InvoicesController], // POST /api/invoices checks the bearer token in its handler
  providers: [
    {
      provide: UNREAD_BODIES,
      useValue: (request: IncomingMessage) =>
        request.method === 'POST' &&
        /^\/api\/invoices\/?(?:[?#]|$)/i.test(request.url ?? '') &&
        !/^Bearer\s+\S+\s*$/i.test(request.headers.authorization ?? ''),
    },
  ],
})
class InvoicesModule {}
// #endregion

describe('guide: NestJS', () => {
  it('leaves unread the bodies of the requests UNREAD_BODIES names', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [InvoicesModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false, bodyParser: false });
    parseBodies(app); // as bootstrapService does
    await app.init();
    try {
      const post = (headers: Record<string, string>) =>
        request(app.getHttpServer())
          .post('/api/invoices')
          .set({ 'Content-Type': 'application/json', ...headers })
          .send('{"amount": ');
      // Without a bearer token: the handler's 401, not the parser's 400 about the body.
      expect((await post({})).status).toBe(401);
      expect((await post({ Authorization: 'Basic dXNlcg==' })).status).toBe(401);
      // With one, the body is parsed (and this one is not JSON).
      expect((await post({ Authorization: 'Bearer t0ken' })).body.type).toBe(
        'https://causeway.dev/problems/malformed-json',
      );
    } finally {
      await app.close();
    }
  });

  it('wires decorated handlers', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AccountsModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    // #region guide:nest-use
    const commands = app.get(CommandBus);
    const deposit = new MessageFactory().command(
      'Deposit',
      { amount: 30 },
      { aggregateId: 'acc-1' },
    );
    const balance = await commands.request<number>(deposit); // 30

    // later, once the projector has seen MoneyDeposited (params validated, result typed):
    const projected: number = await app.get(QueryBus).execute(Balance, { accountId: 'acc-1' });
    // #endregion
    expect(balance).toBe(30);
    for (let i = 0; i < 300 && projected === 0; i++) {
      if ((await app.get(QueryBus).execute(Balance, { accountId: 'acc-1' })) !== 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await app.get(QueryBus).execute(Balance, { accountId: 'acc-1' })).toBe(30);
    await expect(app.get(QueryBus).execute(Balance, { accountId: 7 } as never)).rejects.toThrow(
      MessageValidationError,
    );
    await app.close();
  });

  it('registers the handlers of a lazily loaded module when asked', async () => {
    const reported: number[] = [];
    @Injectable()
    @EventHandler('MoneyDeposited', { name: 'reports' })
    class DepositsReport implements IEventHandler<Envelope<{ amount: number }>> {
      handle(event: Envelope<{ amount: number }>): void {
        reported.push(event.data.amount);
      }
    }
    @Module({ providers: [DepositsReport] })
    class ReportsModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [
        CqrsCoreModule.forRoot({
          service: 'reports',
          instanceId: 'reports-1',
          transport: 'in-memory',
          serializer: new SerializerRegistry().register(
            'MoneyDeposited',
            z.object({ amount: z.number() }),
          ),
        }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      // #region guide:nest-lazy
      await app.get(LazyModuleLoader).load(() => ReportsModule);
      const registered = await app.get(HandlersExplorer).registerLoadedHandlers(); // ['reports']
      // #endregion
      expect(registered).toEqual(['reports']);
      await app
        .get(EventBus)
        .publish([
          new MessageFactory().event('MoneyDeposited', { amount: 7 }, { aggregateId: 'a' }),
        ]);
      for (let i = 0; i < 300 && reported.length === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(reported).toEqual([7]);
    } finally {
      await app.close();
    }
  });

  it('serves @EventPattern handlers over a Causeway subscriber', async () => {
    const serializer = new SerializerRegistry().register('Hello', z.object({ name: z.string() }));
    const broker = new InMemoryBroker({ serializer });
    const subscriber = broker.subscriber();
    const queue = new InMemoryDeadLetterQueue();
    const instanceId = 'greeter-1';
    const greeted: string[] = [];

    // #region guide:nest-transport
    @Controller()
    @UseFilters(KeepRpcErrors)
    class Greetings {
      @EventPattern('hello')
      greet(@Payload() hello: Envelope<{ name: string }>, @Ctx() context: CausewayContext) {
        if (hello.data.name === '') throw new PermanentError('nobody to greet'); // dead-lettered
        greeted.push(`${hello.data.name} (attempt ${context.getDelivery().attempt})`);
      }
    }

    const app = (
      await Test.createTestingModule({ controllers: [Greetings] }).compile()
    ).createNestApplication();
    app.connectMicroservice({
      strategy: new CausewayTransportServer({
        subscriber, // its own: closed with the app
        group: 'greeter',
        consumer: instanceId,
        middleware: [deadLetter({ queue }), retry({ maxAttempts: 3 })],
      }),
    });
    await app.startAllMicroservices();
    // #endregion
    await app.init();
    try {
      const factory = new MessageFactory();
      await broker.publish('hello', [
        factory.event('Hello', { name: '' }, { aggregateId: 'a' }),
        factory.event('Hello', { name: 'Ash' }, { aggregateId: 'b' }),
      ]);
      for (let i = 0; i < 300 && (greeted.length === 0 || (await queue.stats()).total === 0); i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(greeted).toEqual(['Ash (attempt 1)']);
      expect((await queue.list({})).map((letter) => letter.reason)).toEqual(['nobody to greet']);
    } finally {
      await app.close();
    }
  });
});
