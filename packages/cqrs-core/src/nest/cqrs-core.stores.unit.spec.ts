import 'reflect-metadata';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { z } from 'zod';
import { CommandBus } from '../buses/command-bus';
import { documentCollection } from '../documents/document.collection';
import { DocumentStore } from '../documents/document.store';
import { EventStoreDecorator } from '../event-store/event-store.decorator';
import { type EventStore } from '../event-store/event-store.port';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { type Envelope } from '../messages/envelope';
import { MessageFactory } from '../messages/message.factory';
import { SerializerRegistry } from '../messages/serializer.registry';
import { Router } from '../router/router';
import { InMemorySnapshotStore } from '../snapshots/in-memory.snapshot-store';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { type Subscriber } from '../transport/transport.port';
import { CqrsCoreModule } from './cqrs-core.module';
import { type BackgroundWorker } from './cqrs-core.options';
import { EVENT_STORE, SNAPSHOT_STORE } from './cqrs-core.tokens';
import { CommandHandler, EventHandler, type ICommandHandler } from './handler.decorators';

// The stores of CqrsCoreModuleOptions: injected into handlers, initialised before the first
// delivery (in the background while their server is away), closed after the router drained.

/** An event store whose server is away for the first `down` init() calls. */
class FlakyStore extends EventStoreDecorator {
  inits = 0;
  closed = false;
  closedWhileRouting: boolean | undefined;
  router: Router | undefined;
  constructor(
    private down: number,
    private readonly reason = 'connect ECONNREFUSED 127.0.0.1:27017',
  ) {
    super(new InMemoryEventStore());
  }
  override async init(): Promise<void> {
    this.inits++;
    if (this.down-- > 0) throw new Error(this.reason);
    await super.init();
  }
  override async close(): Promise<void> {
    this.closed = true;
    this.closedWhileRouting = this.router?.running;
    await super.close();
  }
}

@Injectable()
@CommandHandler('Open')
class OpenHandler implements ICommandHandler<Envelope<{ owner: string }>, number> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}
  async execute(command: Envelope<{ owner: string }>): Promise<number> {
    const event = new MessageFactory().event('Opened', command.data);
    const { nextExpectedVersion } = await this.store.append(command.aggregateId, [event], {
      expectedVersion: 'any',
    });
    return nextExpectedVersion;
  }
}

@Injectable()
@EventHandler('Opened', { name: 'audit' })
class AuditHandler {
  handle(): void {}
}

/** The module over a subscriber of choice, with workers; handlers subscribe to Opened. */
async function bootWith(options: {
  store?: EventStore;
  subscriber?: Subscriber;
  workers?: BackgroundWorker[];
}) {
  const serializer = new SerializerRegistry().register('Opened', z.object({ owner: z.string() }));
  const broker = new InMemoryBroker({ serializer });
  const moduleRef = await Test.createTestingModule({
    imports: [
      CqrsCoreModule.forRoot({
        service: 'audits',
        instanceId: 'a1',
        publisher: broker,
        subscriber: options.subscriber ?? broker.subscriber(),
        serializer,
        ...(options.store && { eventStore: options.store }),
        workers: options.workers ?? [],
      }),
    ],
    providers: [AuditHandler],
  }).compile();
  return moduleRef.createNestApplication({ logger: false });
}

async function boot(store?: EventStore) {
  const serializer = new SerializerRegistry()
    .register('Open', z.object({ owner: z.string() }))
    .register('Opened', z.object({ owner: z.string() }));
  const broker = new InMemoryBroker({ serializer });
  const snapshots = new InMemorySnapshotStore();
  const moduleRef = await Test.createTestingModule({
    imports: [
      CqrsCoreModule.forRoot({
        service: 'accounts',
        instanceId: 'a1',
        publisher: broker,
        subscriber: broker.subscriber(),
        serializer,
        ...(store && { eventStore: store, snapshotStore: snapshots }),
      }),
    ],
    providers: [OpenHandler],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

const until = async (check: () => boolean, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check())
    if (Date.now() > deadline) throw new Error('timed out');
    else await new Promise((resolve) => setTimeout(resolve, 10));
};

describe('CqrsCoreModule stores', () => {
  it('injects the event store, initialised before the first delivery, closed after the drain', async () => {
    const store = new FlakyStore(2);
    const app = await boot(store);
    // The app started although the store's server is away (its init has failed, and is retried
    // in the background); the router waits for the store. No clock: a loaded machine is slow.
    const router = app.get(Router);
    store.router = router;
    expect(store.inits).toBeGreaterThanOrEqual(1);
    expect(store.inits).toBeLessThan(3);
    expect(router.running).toBe(false);
    expect(app.get(EVENT_STORE)).toBe(store);
    expect(app.get(SNAPSHOT_STORE)).toBeInstanceOf(InMemorySnapshotStore);
    await until(() => router.running);
    expect(store.inits).toBe(3);
    const open = new MessageFactory().command('Open', { owner: 'ada' }, { aggregateId: 'acc-1' });
    expect(await app.get(CommandBus).request<number>(open)).toBe(1);
    expect(await store.readStream('acc-1')).toHaveLength(1);
    await app.close();
    expect(store.closedWhileRouting).toBe(false);
  });

  it('logs the retries of a store that is away without the password its error quotes', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const store = new FlakyStore(1, 'cannot reach mongodb://app:s3cretpw@db:27017/accounts');
      const app = await boot(store);
      await until(() => app.get(Router).running);
      await app.close();
      const warned = warn.mock.calls.map(([message]) => String(message));
      expect(warned).toContainEqual(
        expect.stringContaining(
          'cannot initialise the event store (event store: cannot reach mongodb://[Redacted]@db:27017/accounts)',
        ),
      );
      expect(warned.join('\n')).not.toContain('s3cretpw');
    } finally {
      warn.mockRestore();
    }
  });

  it('stops retrying the store at shutdown, without having taken a delivery', async () => {
    const store = new FlakyStore(Number.POSITIVE_INFINITY);
    const app = await boot(store);
    await until(() => store.inits >= 1);
    const closing = Date.now();
    await app.close();
    expect(Date.now() - closing).toBeLessThan(2_000);
    expect(app.get(Router).running).toBe(false);
  });

  it('names the missing option when EVENT_STORE is injected but not configured', async () => {
    const app = await boot();
    const store = app.get<EventStore>(EVENT_STORE);
    expect(() => store.append).toThrow(
      'CqrsCoreModule: EVENT_STORE was injected but options.eventStore is not set (reading append)',
    );
    await app.close();
  });

  it('injects a DocumentStore over the event store, and names the option when there is none', async () => {
    const users = documentCollection<{ name: string }>('users');
    const store = new InMemoryEventStore();
    const app = await boot(store);
    const documents = app.get(DocumentStore);
    await documents.update(users, 'ada', () => ({ name: 'Ada' }));
    expect((await store.readStream(users.streamIdOf('ada'))).map((event) => event.type)).toEqual([
      'UsersCreated',
    ]);
    await app.close();
    const unconfigured = await boot();
    await expect(
      unconfigured.get(DocumentStore).update(users, 'ada', () => ({ name: 'Ada' })),
    ).rejects.toThrow('EVENT_STORE was injected but options.eventStore is not set');
    await unconfigured.close();
  });

  it("fails the start with a worker's error while the broker is away (no stores)", async () => {
    const down: Subscriber = {
      subscribe: async () => {
        throw new Error('broker down');
      },
      close: async () => {},
    };
    const worker: BackgroundWorker = {
      start: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new Error('worker cannot start');
      },
      stop: async () => {},
    };
    const app = await bootWith({ subscriber: down, workers: [worker] });
    await expect(app.init()).rejects.toThrow('worker cannot start');
    await app.close().catch(() => undefined);
  });

  it('reports a worker that cannot start once the stores are back, and still closes all', async () => {
    const store = new FlakyStore(1);
    const worker: BackgroundWorker = {
      start: async () => {
        throw new Error('worker cannot start');
      },
      stop: async () => {},
    };
    const app = await bootWith({ store, workers: [worker] });
    await app.init(); // starts: the store is away at first
    const router = app.get(Router);
    await until(() => router.running);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await app.close();
    expect(router.running).toBe(false);
    expect(store.closed).toBe(true);
  });

  it('stops only the workers it started, and closes promptly while the router subscribes', async () => {
    const store = new FlakyStore(1);
    const calls: string[] = [];
    const worker: BackgroundWorker = {
      start: () => calls.push('start'),
      stop: async () => void calls.push('stop'),
    };
    const slow: Subscriber = {
      subscribe: () => new Promise(() => undefined),
      close: async () => {},
    };
    const app = await bootWith({ store, subscriber: slow, workers: [worker] });
    await app.init();
    const router = app.get(Router);
    await until(() => router.running);
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      app.close().then(() => 'closed'),
      new Promise(
        (resolve) => (timer = setTimeout(() => resolve('still closing after 2 s'), 2_000)),
      ),
    ]);
    clearTimeout(timer);
    expect(closed).toBe('closed');
    expect(calls).toEqual([]); // never started (the router never ran), so never stopped
  });
});
