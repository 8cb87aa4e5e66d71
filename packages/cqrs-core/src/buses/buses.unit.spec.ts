import { z } from 'zod';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { SerializerRegistry } from '../messages/serializer.registry';
import { deadLetter } from '../middleware/dead-letter.middleware';
import { deduplicator } from '../middleware/deduplicator.middleware';
import { InMemoryDeduplicationStore } from '../middleware/in-memory.deduplication-store';
import { retry } from '../middleware/retry.middleware';
import { DomainError, PermanentError } from '../router/handler.errors';
import { Router } from '../router/router';
import { encodeForWire } from '../transport/wire.codec';
import { testEnvelope } from '../testing/envelope.fixture';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { topicNaming } from '../transport/topic.naming';
import {
  CommandBusClosedError,
  CommandRejectedError,
  CommandTimeoutError,
  DuplicateHandlerError,
  SharedTopicHandledError,
  UnexpectedEventTypeError,
} from './bus.errors';
import { CommandBus, Refusal } from './command-bus';
import { EventBus, type EventBusOptions } from './event-bus';
import { QueryBus } from './query-bus';

function system(commandTopics?: Record<string, string>, eventTopics?: Record<string, string>) {
  const serializer = new SerializerRegistry()
    .register('Move', z.object({ dx: z.number() }))
    .register('Join', z.object({ group: z.string() }))
    .register('Moved', z.object({ x: z.number() }))
    .register('Joined', z.object({ group: z.string() }));
  const broker = new InMemoryBroker({ serializer, redeliveryDelayMs: 5 });
  const naming = topicNaming('test.', { commandTopics, eventTopics });
  const deadLetters = new InMemoryDeadLetterQueue();
  const instance = (service: string, instanceId: string) => {
    const router = new Router({ subscriber: broker.subscriber(), service, instanceId });
    router.use(deadLetter({ queue: deadLetters }), retry({ maxAttempts: 2, initialDelayMs: 1 }));
    return {
      router,
      commands: new CommandBus({
        publisher: broker,
        router,
        naming,
        serializer,
        instanceId,
        timeoutMs: 2_000,
      }),
      events: new EventBus({ publisher: broker, router, naming }),
    };
  };
  return { broker, instance, deadLetters, naming };
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(done: () => boolean, timeoutMs = 3_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !done(); await wait(5))
    if (Date.now() > deadline) throw new Error('timed out');
}

describe('renamed types on the buses (formerNames)', () => {
  // Release 1 called them Move and BadgeWon; release 2 calls them Relocate and BadgeEarned.
  const release1 = new SerializerRegistry()
    .register('Move', z.object({ dx: z.number() }))
    .register('BadgeWon', z.object({ badge: z.string() }))
    .register('Join', z.object({ group: z.string() }))
    .register('Joined', z.object({ group: z.string() }));
  const release2 = () =>
    new SerializerRegistry()
      .register('Relocate', z.object({ dx: z.number() }))
      .formerNames('Relocate', 'Move')
      .register('BadgeEarned', z.object({ badge: z.string() }))
      .formerNames('BadgeEarned', 'BadgeWon')
      .register('Join', z.object({ group: z.string() }))
      .register('Joined', z.object({ group: z.string() }));
  function setup(commandTopics?: Record<string, string>, eventTopics?: Record<string, string>) {
    const serializer = release2();
    const broker = new InMemoryBroker({ serializer, redeliveryDelayMs: 5 });
    const naming = topicNaming('test.', { commandTopics, eventTopics });
    const deadLetters = new InMemoryDeadLetterQueue();
    /** The buses of one service (its own router and consumer groups). */
    const service = (name: string) => {
      const router = new Router({
        subscriber: broker.subscriber(),
        service: name,
        instanceId: name,
      });
      router.use(deadLetter({ queue: deadLetters }), retry({ maxAttempts: 2, initialDelayMs: 1 }));
      const common = { publisher: broker, router, naming };
      return {
        router,
        commands: new CommandBus({ ...common, serializer, instanceId: name, timeoutMs: 2_000 }),
        events: new EventBus({ ...common, serializer }),
      };
    };
    const { router, commands, events } = service('s');
    // What a release-1 instance puts on the wire: its own name, on its own name's topic.
    const fromRelease1 = (topic: string, type: string, data: unknown) =>
      broker.publishRaw(
        topic,
        'ash',
        encodeForWire(release1, testEnvelope(type, data, { aggregateId: 'ash' })),
      );
    return { broker, naming, router, commands, events, deadLetters, fromRelease1, service };
  }

  it("serves a renamed command's former topic too, and hands its commands over as the new type", async () => {
    const { naming, router, commands, deadLetters, fromRelease1, broker } = setup();
    const handled: [string, unknown][] = [];
    commands.handle('Relocate', (command) => void handled.push([command.type, command.data]));
    await router.run();
    await fromRelease1(naming.command('Move'), 'Move', { dx: 1 });
    await commands.send(testEnvelope('Relocate', { dx: 2 }, { aggregateId: 'ash' }));
    await until(() => handled.length === 2);
    expect(handled).toEqual(
      expect.arrayContaining([
        ['Relocate', { dx: 1 }],
        ['Relocate', { dx: 2 }],
      ]),
    );
    expect(await deadLetters.list()).toEqual([]);
    // A former name is the same type: a second handler under it is a duplicate.
    expect(() => commands.handle('Move', () => undefined)).toThrow(DuplicateHandlerError);
    await router.close();
    await broker.close();
  });

  it("leaves a former name's shared command topic to that topic's handler, in one service or two", async () => {
    // Release 1 sent Move and Join to one shared topic; release 2 gives Relocate its own.
    const shared = { Move: 'Trainer', Join: 'Trainer' };
    const { commands, service, deadLetters, broker } = setup(shared);
    // One service: either order registers (no second handler in the shared topic's group).
    commands.handle('Join', () => undefined);
    commands.handle('Relocate', () => undefined);
    const other = setup(shared).service('s2');
    other.commands.handle('Relocate', () => undefined);
    other.commands.handle('Join', () => undefined);
    // Two services: Join's commands all reach Join's handler.
    const movers = service('movers');
    const groups = service('groups');
    const joins: unknown[] = [];
    movers.commands.handle('Relocate', () => undefined);
    groups.commands.handle('Join', (command) => void joins.push(command.data));
    await Promise.all([movers.router.run(), groups.router.run()]);
    for (let i = 0; i < 6; i++)
      await groups.commands.send(
        testEnvelope('Join', { group: `g${i}` }, { aggregateId: `t${i}` }),
      );
    await until(() => joins.length === 6);
    await wait(50);
    expect(await deadLetters.list()).toEqual([]);
    await Promise.all([movers.router.close(), groups.router.close()]);
    await broker.close();
  });

  it('passes over a renamed event on its former shared topic in the handlers of other types', async () => {
    const { naming, router, events, deadLetters, fromRelease1, broker } = setup(undefined, {
      BadgeWon: 'Trainer',
      Joined: 'Trainer',
    });
    const badges: unknown[] = [];
    const joined: unknown[] = [];
    events.on('BadgeEarned', (event) => void badges.push(event.data), { name: 'hall-of-fame' });
    events.on('Joined', (event) => void joined.push(event.data), { name: 'groups' });
    await router.run();
    await fromRelease1(naming.event('BadgeWon'), 'BadgeWon', { badge: 'Boulder' });
    await fromRelease1(naming.event('Joined'), 'Joined', { group: 'g' });
    await until(() => badges.length === 1 && joined.length === 1);
    await wait(50);
    expect(await deadLetters.list()).toEqual([]);
    await router.close();
    await broker.close();
  });

  it("subscribes an event handler to a renamed type's former topic when the bus has the registry", async () => {
    const { naming, router, events, deadLetters, fromRelease1, broker } = setup();
    const seen: [string, unknown][] = [];
    events.on('BadgeEarned', (event) => void seen.push([event.type, event.data]), {
      name: 'hall-of-fame',
    });
    await router.run();
    await fromRelease1(naming.event('BadgeWon'), 'BadgeWon', { badge: 'Boulder' });
    await events.publish([
      testEnvelope('BadgeEarned', { badge: 'Cascade' }, { aggregateId: 'ash' }),
    ]);
    await until(() => seen.length === 2);
    expect(seen).toEqual(
      expect.arrayContaining([
        ['BadgeEarned', { badge: 'Boulder' }],
        ['BadgeEarned', { badge: 'Cascade' }],
      ]),
    );
    expect(await deadLetters.list()).toEqual([]);
    await router.close();
    await broker.close();
  });
});

describe('EventBus construction', () => {
  it('takes options, or the earlier (publisher, router, naming), and names a missing option', () => {
    const { broker, naming } = system();
    const router = new Router({ subscriber: broker.subscriber(), service: 's', instanceId: 'i' });
    expect(new EventBus({ publisher: broker, router, naming })).toBeInstanceOf(EventBus);
    expect(new EventBus(broker, router, naming)).toBeInstanceOf(EventBus);
    expect(() => new EventBus({ publisher: broker, router } as unknown as EventBusOptions)).toThrow(
      'EventBus: options.naming must be a TopicNaming (topicNaming()), got undefined',
    );
    expect(
      () => new EventBus({ publisher: broker, router, naming: 'x' } as unknown as EventBusOptions),
    ).toThrow('EventBus: options.naming must be a TopicNaming (topicNaming()), got "x"');
    const positional = EventBus as unknown as new (...args: unknown[]) => EventBus;
    expect(() => new positional(broker, router)).toThrow(
      'EventBus: naming must be a TopicNaming (topicNaming()), got undefined',
    );
  });
});

describe('CommandBus', () => {
  it('delivers each command to exactly one handler across instances and returns its result', async () => {
    const { instance } = system();
    const a = instance('trainer-service', 'a');
    const b = instance('trainer-service', 'b');
    const handledBy: string[] = [];
    a.commands.handle<{ dx: number }>('Move', async (c) => (handledBy.push('a'), c.data.dx * 10));
    b.commands.handle<{ dx: number }>('Move', async (c) => (handledBy.push('b'), c.data.dx * 10));
    const api = instance('command-api', 'api-1');
    await Promise.all([a.router.run(), b.router.run(), api.router.run()]);

    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api.commands.request(testEnvelope('Move', { dx: i }, { aggregateId: `t${i}` })),
      ),
    );
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i * 10));
    expect(handledBy).toHaveLength(20);
    expect(new Set(handledBy)).toEqual(new Set(['a', 'b']));
    await Promise.all([a.router.close(), b.router.close(), api.router.close()]);
  });

  it('rejects a second handler for the same command type in one process', () => {
    const { instance } = system();
    const a = instance('svc', 'a');
    a.commands.handle('Move', async () => undefined);
    expect(() => a.commands.handle('Move', async () => undefined)).toThrow(DuplicateHandlerError);
  });

  it('refuses a maxInFlight that is not a positive integer at once, registering nothing', () => {
    const { instance } = system();
    const a = instance('svc', 'a');
    expect(() => a.commands.handle('Move', async () => undefined, { maxInFlight: 0 })).toThrow(
      new TypeError(
        'CommandBus.handle: options.maxInFlight must be a positive safe integer, got 0',
      ),
    );
    expect(() =>
      a.events.on('Moved', async () => undefined, { name: 'history', maxInFlight: -1 }),
    ).toThrow(/options\.maxInFlight must be a positive safe integer, got -1/);
    // Nothing half-registered: the same type and name are taken with a valid value.
    a.commands.handle('Move', async () => undefined, { maxInFlight: 2 });
    a.events.on('Moved', async () => undefined, { name: 'history', maxInFlight: 2 });
    expect(a.router.handlerNames()).toHaveLength(2);
  });

  it('names both handlers of a command type registered twice', () => {
    const { instance } = system();
    const a = instance('svc', 'a');
    a.commands.handle('Move', async () => undefined, { name: 'MoveHandler' });
    const error = (() => {
      try {
        a.commands.handle('Move', async function moveAgain() {});
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(DuplicateHandlerError);
    expect(error).toMatchObject({
      message:
        'moveAgain cannot handle command Move: MoveHandler already does (a command has exactly one handler)',
      kind: 'command',
      registered: 'MoveHandler',
      duplicate: 'moveAgain',
    });
  });

  it('reports a handler that failed for good as CommandRejectedError after dead-lettering it', async () => {
    const { instance, deadLetters } = system();
    const svc = instance('svc', 'a');
    svc.commands.handle('Move', async () => {
      throw new PermanentError('trainer ash not found');
    });
    await svc.router.run();
    const error = await svc.commands
      .request(testEnvelope('Move', { dx: 1 }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandRejectedError);
    expect(error).toMatchObject({ remoteName: 'PermanentError', message: 'trainer ash not found' });
    expect((await deadLetters.list()).map((l) => l.reason)).toEqual(['trainer ash not found']);
    await svc.router.close();
  });

  it('keeps one dead letter for a command whose reply cannot be published; its sender times out', async () => {
    const serializer = new SerializerRegistry().register('Move', z.object({ dx: z.number() }));
    const broker = new InMemoryBroker({ serializer, redeliveryDelayMs: 5 });
    const away = new InMemoryBroker({ serializer }); // the handling side's broker, gone
    await away.close();
    const naming = topicNaming('test.');
    const deadLetters = new InMemoryDeadLetterQueue();
    const bus = (instanceId: string, publisher: InMemoryBroker) => {
      const router = new Router({ subscriber: broker.subscriber(), service: 'svc', instanceId });
      router.use(deadLetter({ queue: deadLetters }));
      const commands = new CommandBus({
        publisher,
        router,
        naming,
        serializer,
        instanceId,
        timeoutMs: 300,
      });
      return { router, commands };
    };
    const sender = bus('sender', broker);
    const handler = bus('handler', away);
    let runs = 0;
    handler.commands.handle('Move', async () => {
      runs++;
      throw new PermanentError('trainer ash not found');
    });
    const warn = jest.spyOn(process, 'emitWarning');
    try {
      await handler.router.run();
      await sender.router.run();
      const failure = await sender.commands
        .request(testEnvelope('Move', { dx: 1 }))
        .catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(CommandTimeoutError);
      await wait(100); // redeliveries (every 5 ms) would have dead-lettered it again by now
      expect((await deadLetters.list()).map((l) => l.reason)).toEqual(['trainer ash not found']);
      expect(runs).toBe(1);
      const warnings = warn.mock.calls.filter(
        ([, options]) =>
          (options as { code?: string } | undefined)?.code ===
          'CAUSEWAY_DEAD_LETTER_REPLY_NOT_SENT',
      );
      expect(warnings).toHaveLength(1);
      expect(String(warnings[0]![0])).toMatch(/dead-lettered as letter .* could not be published/);
    } finally {
      warn.mockRestore();
      await handler.router.close();
      await sender.router.close();
      await broker.close();
    }
  });

  it('answers a DomainError at once with its class name, and acknowledges the command: no retry, no dead letter', async () => {
    const { instance, deadLetters } = system();
    class InsufficientFunds extends DomainError {}
    const service = instance('svc', 's');
    let runs = 0;
    const outcomes: unknown[] = [];
    service.commands.handle(
      'Move',
      async () => {
        runs++;
        throw new InsufficientFunds('balance 30, asked 80');
      },
      {
        outerMiddleware: [
          (next) => async (delivery) => {
            const result = await next(delivery);
            outcomes.push(result);
            return result;
          },
        ],
      },
    );
    const api = instance('api', 'x');
    await Promise.all([service.router.run(), api.router.run()]);
    const refused = await api.commands.request(testEnvelope('Move', { dx: 1 })).catch((e) => e);
    expect(refused).toBeInstanceOf(CommandRejectedError);
    expect(refused).toMatchObject({
      remoteName: 'InsufficientFunds',
      message: 'balance 30, asked 80',
    });
    await wait(100); // a redelivery would come within a few ms
    expect(runs).toBe(1);
    expect(await deadLetters.list()).toEqual([]);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toBeInstanceOf(Refusal);
    await Promise.all([service.router.close(), api.router.close()]);
  });

  it("carries a DomainError's own client-error status to the sender, and no other status", async () => {
    const { instance } = system();
    class AccountClosed extends DomainError {
      readonly status = 403;
    }
    class Gone extends DomainError {
      readonly statusCode = 410;
    }
    class Broken extends DomainError {
      readonly status = 503; // not a client error: not sent
    }
    class NotDomain extends PermanentError {
      readonly status = 404; // not a DomainError: dead-lettered, its status stays here
    }
    // The test command's data is { dx }: dx picks what the handler throws.
    const thrown: Record<number, () => Error> = {
      1: () => new AccountClosed('account A-1 is closed', { code: 'account-closed' }),
      2: () => new Gone('account A-2 was removed'),
      3: () => new Broken('ledger unavailable'),
      4: () => new NotDomain('no such row'),
    };
    const service = instance('svc', 's');
    service.commands.handle<{ dx: number }>('Move', async (command) => {
      throw thrown[command.data.dx]!();
    });
    const api = instance('api', 'x');
    await Promise.all([service.router.run(), api.router.run()]);
    const rejection = (dx: number) =>
      api.commands.request(testEnvelope('Move', { dx })).catch((e: unknown) => e);
    expect(await rejection(1)).toMatchObject({
      remoteName: 'AccountClosed',
      code: 'account-closed',
      status: 403,
      refused: true,
    });
    expect(await rejection(2)).toMatchObject({ remoteName: 'Gone', status: 410 });
    const broken = await rejection(3);
    expect(broken).toMatchObject({ remoteName: 'Broken', refused: true });
    expect((broken as CommandRejectedError).status).toBeUndefined();
    const other = await rejection(4);
    expect(other).toMatchObject({ remoteName: 'PermanentError', refused: false });
    expect((other as CommandRejectedError).status).toBeUndefined();
    await Promise.all([service.router.close(), api.router.close()]);
  });

  it('answers a refused command sent again with its refusal, not as already handled, behind a deduplicator', async () => {
    const { instance, deadLetters } = system();
    class InsufficientFunds extends DomainError {}
    const service = instance('svc', 's');
    service.router.use(deduplicator({ store: new InMemoryDeduplicationStore() }));
    let runs = 0;
    service.commands.handle('Move', async () => {
      runs++;
      throw new InsufficientFunds('balance 30, asked 80');
    });
    const api = instance('api', 'x');
    await Promise.all([service.router.run(), api.router.run()]);
    const command = testEnvelope('Move', { dx: 1 });
    for (let i = 0; i < 2; i++) {
      const outcome = await api.commands.request(command).catch((e: unknown) => e);
      expect(outcome).toBeInstanceOf(CommandRejectedError);
      expect(outcome).toMatchObject({ remoteName: 'InsufficientFunds' });
    }
    expect(runs).toBe(2);
    expect(await deadLetters.list()).toEqual([]);
    await Promise.all([service.router.close(), api.router.close()]);
  });

  it("answers a command sent again with the first handling's result, behind a deduplicator, handling it once", async () => {
    const { instance } = system();
    const service = instance('svc', 's');
    service.router.use(deduplicator({ store: new InMemoryDeduplicationStore() }));
    let runs = 0;
    service.commands.handle<{ dx: number }>('Move', async (c) => {
      runs++;
      return { x: c.data.dx * 10, at: new Date(0) };
    });
    const api = instance('api', 'x');
    await Promise.all([service.router.run(), api.router.run()]);
    const command = testEnvelope('Move', { dx: 3 });
    const first = await api.commands.request(command);
    expect(first).toEqual({ x: 30, at: '1970-01-01T00:00:00.000Z' }); // a reply is JSON
    await expect(api.commands.request(command)).resolves.toEqual(first);
    expect(runs).toBe(1);
    await Promise.all([service.router.close(), api.router.close()]);
  });

  it('names an error class that kept the name Error by its class, after the retries', async () => {
    const { instance } = system();
    class LedgerDown extends Error {}
    const service = instance('svc', 's');
    service.commands.handle('Move', async () => {
      throw new LedgerDown('ledger unreachable');
    });
    await service.router.run();
    const failure = await service.commands.request(testEnvelope('Move', { dx: 1 })).catch((e) => e);
    expect(failure).toMatchObject({ remoteName: 'LedgerDown', message: 'ledger unreachable' });
    await service.router.close();
  });

  it('claims nothing for a handler registered as idempotent, and still for the others', async () => {
    const { instance } = system();
    const store = new InMemoryDeduplicationStore();
    const claims = jest.spyOn(store, 'claim');
    const service = instance('trainer-service', 'a');
    service.router.use(deduplicator({ store }));
    service.commands.handle<{ dx: number }>('Move', async (c) => c.data.dx, { idempotent: true });
    service.commands.handle<{ x: number }>('Moved', async (c) => c.data.x);
    const api = instance('command-api', 'api-1');
    await Promise.all([service.router.run(), api.router.run()]);
    await expect(api.commands.request(testEnvelope('Move', { dx: 3 }))).resolves.toBe(3);
    expect(claims).not.toHaveBeenCalled();
    const other = testEnvelope('Moved', { x: 4 });
    await expect(api.commands.request(other)).resolves.toBe(4);
    expect(claims.mock.calls.map(([key]) => key)).toEqual([`commands.Moved:${other.messageId}`]);
    await Promise.all([service.router.close(), api.router.close()]);
  });

  it('answers a result that cannot be sent with ReplyNotSentError, and handles the command once', async () => {
    const { instance, deadLetters } = system();
    const service = instance('svc', 's');
    let runs = 0;
    service.commands.handle('Move', async () => {
      runs++;
      return 10n; // a BigInt: no JSON for it
    });
    const api = instance('api', 'x');
    await Promise.all([service.router.run(), api.router.run()]);
    const failure = await api.commands.request(testEnvelope('Move', { dx: 1 })).catch((e) => e);
    expect(failure).toBeInstanceOf(CommandRejectedError);
    expect(failure).toMatchObject({ remoteName: 'ReplyNotSentError' });
    expect((failure as Error).message).toMatch(/cannot be sent as its reply/);
    await wait(100); // redeliveries would come every few ms
    expect(runs).toBe(1);
    expect(await deadLetters.list()).toEqual([]);
    await Promise.all([service.router.close(), api.router.close()]);
  });

  it('times out, sending nothing and saying so, while its replies cannot be subscribed', async () => {
    const { instance } = system();
    const api = instance('api', 'x'); // its router is never run: no replies subscription
    const command = testEnvelope('Move', { dx: 1 });
    const started = Date.now();
    const failure = await api.commands.request(command, { timeoutMs: 100 }).catch((e) => e);
    expect(failure).toBeInstanceOf(CommandTimeoutError);
    expect(failure).toMatchObject({ commandId: command.messageId, timeoutMs: 100, sent: false });
    expect((failure as Error).message).toBe(
      `Move ${command.messageId} was not sent: the replies subscription was not in place ` +
        'within 100 ms (is router.run() called, is the broker reachable?)',
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    // Nothing was sent: a handler that starts now (from the earliest command) gets none.
    const service = instance('svc', 's');
    let runs = 0;
    service.commands.handle('Move', async () => runs++);
    await service.router.run();
    await wait(100);
    expect(runs).toBe(0);
    await Promise.all([service.router.close(), api.router.close()]);
  });

  it('answers every request of one messageId (an idempotent retry while the first waits)', async () => {
    const { instance } = system();
    const service = instance('trainer-service', 's');
    let runs = 0;
    service.commands.handle<{ dx: number }>('Move', async (c) => (runs++, c.data.dx * 10));
    const api = instance('command-api', 'api-1');
    await Promise.all([service.router.run(), api.router.run()]);
    const command = testEnvelope('Move', { dx: 4 });
    const started = Date.now();
    const results = await Promise.all([
      api.commands.request(command, { timeoutMs: 1_500 }),
      api.commands.request(command, { timeoutMs: 1_500 }),
    ]);
    expect(results).toEqual([40, 40]);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(runs).toBeGreaterThanOrEqual(1);
    await Promise.all([service.router.close(), api.router.close()]);
  });

  it('refuses a request at once after close, sending nothing', async () => {
    const { instance, broker } = system();
    const api = instance('command-api', 'api-1');
    await api.router.run();
    api.commands.close();
    const sent: string[] = [];
    const original = broker.publish.bind(broker);
    broker.publish = async (topic, messages) => (sent.push(topic), original(topic, messages));
    const started = Date.now();
    const refused = await api.commands
      .request(testEnvelope('Move', { dx: 1 }), { timeoutMs: 1_000 })
      .catch((e: Error) => e);
    expect(refused).toBeInstanceOf(CommandBusClosedError);
    expect(refused).toMatchObject({ commandType: 'Move', sent: false });
    expect((refused as Error).message).toMatch(
      /command bus is closed: Move [0-9a-f-]+ was not sent/,
    );
    expect(Date.now() - started).toBeLessThan(500);
    expect(sent).toEqual([]);
    await api.router.close();
  });

  it('refuses as closed, sending nothing, a first request made while the router drains (shutdown)', async () => {
    const { instance, broker } = system();
    const api = instance('command-api', 'api-1');
    await api.router.run();
    // The app's shutdown closes the router first, then the bus: a request in between (an HTTP
    // request still served during the drain) had a plain Error('router is closed'), a 500.
    await api.router.close();
    const sent: string[] = [];
    const original = broker.publish.bind(broker);
    broker.publish = async (topic, messages) => (sent.push(topic), original(topic, messages));
    const refused = await api.commands
      .request(testEnvelope('Move', { dx: 1 }), { timeoutMs: 1_000 })
      .catch((e: Error) => e);
    expect(refused).toBeInstanceOf(CommandBusClosedError);
    expect(refused).toMatchObject({ commandType: 'Move', sent: false });
    expect(sent).toEqual([]);
  });

  it('tells a request waiting when the bus closes that its command was sent', async () => {
    const { instance } = system();
    const service = instance('trainer-service', 's');
    let release!: () => void;
    const handling = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    service.commands.handle('Move', async () => {
      started();
      await handling;
      return 1;
    });
    const api = instance('command-api', 'api-1');
    await Promise.all([service.router.run(), api.router.run()]);
    const command = testEnvelope('Move', { dx: 1 });
    const outcome = api.commands.request(command, { timeoutMs: 5_000 }).catch((e: Error) => e);
    await running;
    api.commands.close(); // shutdown while the handler still works on it
    const failure = await outcome;
    expect(failure).toBeInstanceOf(CommandBusClosedError);
    expect(failure).toMatchObject({
      commandId: command.messageId,
      commandType: 'Move',
      sent: true,
    });
    expect((failure as Error).message).toBe(
      `command bus closed while waiting for the reply to Move ${command.messageId}: it may ` +
        'still be handled',
    );
    release();
    await Promise.all([service.router.close(), api.router.close()]);
  });

  it('times out at its timeout while the broker does not answer the publish of the command', async () => {
    const { instance, broker } = system();
    const api = instance('command-api', 'api-1');
    await api.router.run();
    // The broker takes the command but never answers (a connection that hangs).
    let refuse!: (error: Error) => void;
    broker.publish = () => new Promise<void>((_, reject) => (refuse = reject));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const command = testEnvelope('Move', { dx: 1 });
      const started = Date.now();
      const failure = await Promise.race([
        api.commands.request(command, { timeoutMs: 100 }).catch((e: Error) => e),
        wait(1_000).then(() => 'still waiting'),
      ]);
      expect(failure).toBeInstanceOf(CommandTimeoutError);
      expect(failure).toMatchObject({ commandId: command.messageId, timeoutMs: 100, sent: true });
      expect((failure as Error).message).toBe(
        `no reply to Move ${command.messageId} on test.commands.Move within 100 ms: the broker ` +
          'had not accepted the command yet (it may still be handled)',
      );
      expect(Date.now() - started).toBeLessThan(500);
      // The publish failing later changes nothing, and is no unhandled rejection.
      refuse(new Error('connection reset'));
      await wait(20);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    await api.router.close();
  });

  it('refuses, sending nothing, a request still waiting for its replies subscription when the bus closes', async () => {
    const { instance, broker } = system();
    const api = instance('command-api', 'api-1'); // not running yet: the request waits
    const sent: string[] = [];
    const original = broker.publish.bind(broker);
    broker.publish = async (topic, messages) => (sent.push(topic), original(topic, messages));
    const started = Date.now();
    const outcome = api.commands
      .request(testEnvelope('Move', { dx: 1 }), { timeoutMs: 2_000 })
      .catch((e: Error) => e);
    await wait(20);
    api.commands.close(); // shutdown while the request waits
    await api.router.run(); // the replies subscription comes in place after all
    const refused = await outcome;
    expect(refused).toBeInstanceOf(CommandBusClosedError);
    expect(refused).toMatchObject({ commandType: 'Move', sent: false });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(sent).toEqual([]);
    await api.router.close();
  });

  it('refuses a request whose timeoutMs no timer can wait, naming it and sending nothing', async () => {
    const { instance, broker } = system();
    const api = instance('command-api', 'api-1');
    await api.router.run();
    const sent: string[] = [];
    const original = broker.publish.bind(broker);
    broker.publish = async (topic, messages) => (sent.push(topic), original(topic, messages));
    // NaN: a Number() of an unset variable; a longer wait than a timer's fires after 1 ms.
    for (const timeoutMs of [NaN, 0, -5, 2 ** 31, '500' as unknown as number]) {
      const refused = await api.commands
        .request(testEnvelope('Move', { dx: 1 }), { timeoutMs })
        .catch((e: Error) => e);
      expect(refused).toBeInstanceOf(TypeError);
      expect((refused as Error).message).toContain(
        'CommandBus.request: options.timeoutMs must be a positive number of milliseconds',
      );
    }
    expect(sent).toEqual([]);
    await api.router.close();
  });

  it('times out when no handler answers, naming the topic and the likely causes', async () => {
    const { instance } = system();
    const api = instance('api', 'x');
    await api.router.run();
    const command = testEnvelope('Move', { dx: 1 });
    const failure = await api.commands.request(command, { timeoutMs: 50 }).catch((e) => e);
    expect(failure).toBeInstanceOf(CommandTimeoutError);
    expect(failure).toMatchObject({ commandId: command.messageId, timeoutMs: 50, sent: true });
    expect((failure as Error).message).toBe(
      `no reply to Move ${command.messageId} on test.commands.Move within 50 ms: ` +
        'no handler of Move is running, or it is slower than the timeout',
    );
    await api.router.close();
  });
});

describe('CommandBus: command types sharing a topic', () => {
  const shared = { Move: 'Trainer', Join: 'Trainer' };

  it('handles the commands of one key in send order whatever their type', async () => {
    const { instance } = system(shared);
    const service = instance('trainer-service', 'a');
    const handled = new Map<string, string[]>();
    service.commands.handle(
      ['Move', 'Join'],
      async (command) => {
        // Moves are slow: a Join of the same key sent after one must still wait for it.
        if (command.type === 'Move') await wait(20);
        const seen = handled.get(command.aggregateId) ?? [];
        handled.set(command.aggregateId, [...seen, `${command.type}:${command.messageId}`]);
      },
      { name: 'TrainerHandler', maxInFlight: 8 },
    );
    const api = instance('command-api', 'api-1');
    await Promise.all([service.router.run(), api.router.run()]);
    const sent = new Map<string, string[]>();
    for (let i = 0; i < 5; i++)
      for (const key of ['ash', 'misty', 'brock']) {
        const command =
          i % 2 === 0
            ? testEnvelope('Move', { dx: i }, { aggregateId: key })
            : testEnvelope('Join', { group: `g${i}` }, { aggregateId: key });
        sent.set(key, [...(sent.get(key) ?? []), `${command.type}:${command.messageId}`]);
        await api.commands.send(command);
      }
    await until(() => [...handled.values()].flat().length === 15).catch(() => undefined);
    expect(handled).toEqual(sent);
    // One topic, one consumer group for both types.
    expect(service.router.handlerNames()).toEqual(['commands.Trainer']);
    expect(service.router.topics()).toEqual(['test.commands.Trainer']);
    await Promise.all([service.router.close(), api.router.close()]);
  });

  it('answers requests of every type of the shared topic', async () => {
    const { instance } = system(shared);
    const service = instance('trainer-service', 'a');
    service.commands.handle(['Move', 'Join'], async (command) => command.type);
    const api = instance('command-api', 'api-1');
    await Promise.all([service.router.run(), api.router.run()]);
    await expect(api.commands.request(testEnvelope('Move', { dx: 1 }))).resolves.toBe('Move');
    await expect(api.commands.request(testEnvelope('Join', { group: 'g' }))).resolves.toBe('Join');
    await Promise.all([service.router.close(), api.router.close()]);
  });

  it('dead-letters at once, with its reason, a type that no handler of the shared topic handles', async () => {
    const { instance, deadLetters } = system(shared);
    const service = instance('trainer-service', 'a');
    let moves = 0;
    service.commands.handle(['Move'], async () => void moves++, { name: 'MoveHandler' });
    const api = instance('command-api', 'api-1');
    await Promise.all([service.router.run(), api.router.run()]);
    const join = testEnvelope('Join', { group: 'g' }, { aggregateId: 'ash' });
    const error = await api.commands.request(join).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandRejectedError);
    expect(error).toMatchObject({ remoteName: 'UnhandledCommandTypeError' });
    const letters = await deadLetters.list();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      envelope: { messageId: join.messageId },
      originalTopic: 'test.commands.Trainer',
      attempts: 1,
      errorName: 'UnhandledCommandTypeError',
    });
    expect(letters[0]!.reason).toBe(
      'command type Join came on topic test.commands.Trainer, whose handler (MoveHandler) handles only Move',
    );
    // The key's next command is not held back.
    await expect(
      api.commands.request(testEnvelope('Move', { dx: 1 }, { aggregateId: 'ash' })),
    ).resolves.toBeUndefined();
    expect(moves).toBe(1);
    await Promise.all([service.router.close(), api.router.close()]);
  });

  it('still has exactly one handler per type, and one handle() per shared topic', () => {
    const { instance } = system(shared);
    const a = instance('svc', 'a');
    a.commands.handle(['Move', 'Join'], async () => undefined, { name: 'TrainerHandler' });
    expect(() => a.commands.handle('Join', async () => undefined, { name: 'JoinHandler' })).toThrow(
      new DuplicateHandlerError('Join', {
        registered: 'TrainerHandler',
        duplicate: 'JoinHandler',
      }),
    );
    const b = instance('svc', 'b');
    b.commands.handle('Move', async () => undefined, { name: 'MoveHandler' });
    expect(() => b.commands.handle('Join', async () => undefined, { name: 'JoinHandler' })).toThrow(
      SharedTopicHandledError,
    );
    expect(() => b.commands.handle(['Join', 'Moved'], async () => undefined)).toThrow(
      /Join goes to test\.commands\.Trainer and Moved to test\.commands\.Moved/,
    );
  });

  it('with drainOwnTopics also handles, in their old groups, commands sent to the per-type topics before', async () => {
    const { instance, broker } = system(shared);
    const seen: string[] = [];
    // Before the upgrade Move had a topic and a group of its own, which took the first command.
    const before = new Router({
      subscriber: broker.subscriber(),
      service: 'trainer-service',
      instanceId: 'old',
    });
    new CommandBus({
      publisher: broker,
      router: before,
      naming: topicNaming('test.'),
      serializer: new SerializerRegistry(),
      instanceId: 'old',
    }).handle<{ dx: number }>('Move', async (c) => void seen.push(`before:${c.data.dx}`));
    await before.run();
    await broker.publish('test.commands.Move', [testEnvelope('Move', { dx: 1 })]);
    await until(() => seen.length === 1);
    await before.close();
    // Sent by a sender not upgraded yet, after the old handler stopped.
    await broker.publish('test.commands.Move', [testEnvelope('Move', { dx: 2 })]);

    const service = instance('trainer-service', 'new');
    service.commands.handle(
      ['Move', 'Join'],
      async (c) => void seen.push(`after:${c.type}:${JSON.stringify(c.data)}`),
      { drainOwnTopics: true },
    );
    const api = instance('command-api', 'api-1');
    await Promise.all([service.router.run(), api.router.run()]);
    await api.commands.send(testEnvelope('Join', { group: 'g' }));
    await until(() => seen.length === 3);
    await wait(50);
    expect(seen.sort()).toEqual(['after:Join:{"group":"g"}', 'after:Move:{"dx":2}', 'before:1']);
    expect(service.router.handlerNames()).toEqual([
      'commands.Trainer',
      'commands.Move',
      'commands.Join',
    ]);
    await Promise.all([service.router.close(), api.router.close()]);
  });
});

describe('EventBus', () => {
  it('delivers each event to every handler group; competing within a service, fan-out across instances', async () => {
    const { instance } = system();
    const seen: string[] = [];
    const one = instance('projection-worker', 'p1');
    const two = instance('projection-worker', 'p2');
    const gw1 = instance('sse-gateway', 'g1');
    const gw2 = instance('sse-gateway', 'g2');
    for (const [name, svc] of [
      ['p1', one],
      ['p2', two],
    ] as const) {
      svc.events.on<{ x: number }>(
        'Moved',
        async (e) => void seen.push(`projection:${name}:${e.data.x}`),
        { name: 'positions' },
      );
    }
    for (const [name, svc] of [
      ['g1', gw1],
      ['g2', gw2],
    ] as const) {
      svc.events.on<{ x: number }>(
        'Moved',
        async (e) => void seen.push(`gateway:${name}:${e.data.x}`),
        { name: 'notify', mode: 'fan-out' },
      );
    }
    await Promise.all([one, two, gw1, gw2].map((svc) => svc.router.run()));
    await one.events.publish([
      testEnvelope('Moved', { x: 1 }),
      testEnvelope('Moved', { x: 2 }, { aggregateId: 'other' }),
    ]);
    await wait(50);
    const projections = seen
      .filter((s) => s.startsWith('projection'))
      .map((s) => s.split(':')[2])
      .sort();
    expect(projections).toEqual(['1', '2']); // each event once across the two projection workers
    expect(seen.filter((s) => s.startsWith('gateway')).sort()).toEqual([
      'gateway:g1:1',
      'gateway:g1:2',
      'gateway:g2:1',
      'gateway:g2:2',
    ]);
    await Promise.all([one, two, gw1, gw2].map((svc) => svc.router.close()));
  });
});

describe('QueryBus', () => {
  it('refuses a second handler of a query type with a message about queries, naming both', () => {
    const queries = new QueryBus().register('TrainerPosition', () => 1, { name: 'PositionQuery' });
    expect(() =>
      queries.register('TrainerPosition', () => 2, { name: 'LegacyPositionQuery' }),
    ).toThrow(
      new DuplicateHandlerError('TrainerPosition', {
        kind: 'query',
        registered: 'PositionQuery',
        duplicate: 'LegacyPositionQuery',
      }),
    );
    expect(() => queries.register('TrainerPosition', () => 3)).toThrow(
      'a second handler cannot handle query TrainerPosition: PositionQuery already does (a query has exactly one handler)',
    );
    expect(() =>
      queries.register('TrainerPosition', () => 2, { name: 'LegacyPositionQuery' }),
    ).toThrow(
      'LegacyPositionQuery cannot handle query TrainerPosition: PositionQuery already does (a query has exactly one handler)',
    );
  });
});

describe('EventBus: the types a handler sees', () => {
  it('gives a handler only its types; a misrouted message is dead-lettered at once', async () => {
    const { instance, deadLetters, broker } = system();
    const service = instance('positions', 'a');
    const seen: string[] = [];
    service.events.on('Moved', (event) => void seen.push(event.type), { name: 'positions' });
    await service.router.run();
    // A command that a producer sent to the events topic: not an event of this topic.
    const misrouted = testEnvelope('Move', { dx: 1 }, { aggregateId: 'ash' });
    await broker.publish('test.events.Moved', [misrouted]);
    await broker.publish('test.events.Moved', [testEnvelope('Moved', { x: 1 })]);
    await until(() => seen.length === 1);
    for (
      const deadline = Date.now() + 3_000;
      (await deadLetters.list()).length === 0;
      await wait(5)
    )
      if (Date.now() > deadline) throw new Error('timed out waiting for the dead letter');
    expect(seen).toEqual(['Moved']);
    const [letter] = await deadLetters.list();
    expect(letter).toMatchObject({
      envelope: { messageId: misrouted.messageId },
      attempts: 1,
      errorName: 'UnexpectedEventTypeError',
      reason:
        'a message of type Move came on topic test.events.Moved, where the naming publishes none of its kind; the handler (positions) handles Moved',
    });
    expect(new UnexpectedEventTypeError('Move', 't', ['Moved'])).toBeInstanceOf(PermanentError);
    await service.router.close();
  });

  it("with eventTopics, a handler of several types sees an aggregate's events in publish order", async () => {
    const { instance, deadLetters } = system(undefined, { Moved: 'Trainer', Joined: 'Trainer' });
    const service = instance('history', 'a');
    const all = new Map<string, string[]>();
    const movesOnly: string[] = [];
    service.events.on(
      ['Moved', 'Joined'],
      async (event) => {
        // Moves are slow: a Joined of the same trainer published after one must wait for it.
        if (event.type === 'Moved') await wait(10);
        all.set(event.aggregateId, [...(all.get(event.aggregateId) ?? []), event.messageId]);
      },
      { name: 'history', maxInFlight: 8 },
    );
    // A handler of one type of the shared topic skips the other.
    service.events.on('Moved', (event) => void movesOnly.push(event.messageId), {
      name: 'moves',
    });
    await service.router.run();
    const published = new Map<string, string[]>();
    const moves: string[] = [];
    for (let i = 0; i < 4; i++)
      for (const key of ['ash', 'misty']) {
        const event =
          i % 2 === 0
            ? testEnvelope('Moved', { x: i }, { aggregateId: key })
            : testEnvelope('Joined', { group: `g${i}` }, { aggregateId: key });
        if (event.type === 'Moved') moves.push(event.messageId);
        published.set(key, [...(published.get(key) ?? []), event.messageId]);
        await service.events.publish([event]);
      }
    await until(() => [...all.values()].flat().length === 8 && movesOnly.length === 4);
    expect(all).toEqual(published);
    expect(movesOnly).toEqual(moves);
    expect(service.router.topics()).toEqual(['test.events.Trainer']);
    expect(await deadLetters.list()).toEqual([]);
    await service.router.close();
  });
});
