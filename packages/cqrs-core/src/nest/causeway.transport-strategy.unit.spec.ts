import 'reflect-metadata';
import { Controller, UseFilters } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { z } from 'zod';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { type Envelope } from '../messages/envelope';
import { createMessage } from '../messages/message.factory';
import { SerializerRegistry } from '../messages/serializer.registry';
import { deadLetter } from '../middleware/dead-letter.middleware';
import { retry } from '../middleware/retry.middleware';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { PermanentError } from '../router/handler.errors';
import { InvalidTopicError } from '../transport/transport.errors';
import { type Subscriber } from '../transport/transport.port';
import { CausewayTransportServer } from './causeway.transport-strategy';
import { KeepRpcErrors } from './rpc-errors.filter';

@Controller()
class Greetings {
  readonly calls: number[] = [];
  readonly greeted: number[] = [];
  @EventPattern('hello')
  onHello(@Payload() envelope: Envelope<{ n: number }>) {
    this.calls.push(envelope.data.n);
    if (envelope.data.n === 13) throw new Error('the greeting service is down');
    if (envelope.data.n === 0) throw new PermanentError('zero is not a greeting');
    this.greeted.push(envelope.data.n);
  }

  readonly followUps: Envelope[] = [];
  @EventPattern('relay')
  onRelay(@Payload() envelope: Envelope<{ n: number }>) {
    // What a handler publishes next: caused by the message it handles (S1-10).
    this.followUps.push(
      createMessage({ type: 'Relayed', category: 'event', aggregateId: 'r', data: envelope.data }),
    );
  }
}

/** The same handlers, their errors kept as thrown. */
@Controller()
@UseFilters(KeepRpcErrors)
class KeptGreetings extends Greetings {}

async function started(options: { keepErrors: boolean }) {
  const serializer = new SerializerRegistry()
    .register('Hello', z.object({ n: z.number() }))
    .register('Relay', z.object({ n: z.number() }));
  const broker = new InMemoryBroker({ serializer });
  const queue = new InMemoryDeadLetterQueue();
  const controller = options.keepErrors ? KeptGreetings : Greetings;
  const moduleRef = await Test.createTestingModule({ controllers: [controller] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.connectMicroservice({
    strategy: new CausewayTransportServer({
      subscriber: broker.subscriber(),
      group: 'greeter',
      consumer: 'c1',
      middleware: [
        deadLetter({ queue, onDeadLetter: () => undefined }),
        retry({ maxAttempts: 3, initialDelayMs: 1 }),
      ],
    }),
  });
  await app.startAllMicroservices();
  await app.init();
  const hello = (n: number) =>
    createMessage({ type: 'Hello', category: 'event', aggregateId: `a${n}`, data: { n } });
  const letters = async (count: number) => {
    const deadline = Date.now() + 5_000;
    while ((await queue.stats()).total < count) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the dead letters');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // no redelivery comes
    return queue.list({});
  };
  return { app, greetings: app.get<Greetings>(controller), broker, hello, letters };
}

describe('CausewayTransportServer', () => {
  it('runs its middleware around every pattern: retried, then dead-lettered with the error', async () => {
    const { app, greetings, broker, hello, letters } = await started({ keepErrors: true });
    try {
      await broker.publish('hello', [hello(13), hello(0), hello(2)]);
      const dead = await letters(2);
      expect(greetings.greeted).toEqual([2]);
      expect(greetings.calls.filter((n) => n === 13)).toHaveLength(3);
      expect(greetings.calls.filter((n) => n === 0)).toHaveLength(1); // permanent: not retried
      expect(dead.map(({ envelope, ...letter }) => ({ n: envelope?.data, ...letter }))).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            n: { n: 13 },
            originalTopic: 'hello',
            handler: 'hello',
            group: 'greeter',
            attempts: 3,
            reason: 'the greeting service is down',
          }),
          expect.objectContaining({
            n: { n: 0 },
            attempts: 1,
            errorName: 'PermanentError',
            reason: 'zero is not a greeting',
          }),
        ]),
      );
    } finally {
      await app.close();
    }
  });

  it('runs each handler in its message context: what it creates carries causation and correlation', async () => {
    const { app, greetings, broker } = await started({ keepErrors: true });
    try {
      const sent = createMessage({
        type: 'Relay',
        category: 'event',
        aggregateId: 'r',
        data: { n: 1 },
        metadata: { correlationId: 'checkout-42' },
      });
      await broker.publish('relay', [sent]);
      const deadline = Date.now() + 5_000;
      while (greetings.followUps.length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 5));
      expect(greetings.followUps.map((message) => message.metadata)).toEqual([
        expect.objectContaining({ causationId: sent.messageId, correlationId: 'checkout-42' }),
      ]);
    } finally {
      await app.close();
    }
  });

  it("warns once when Nest's default filter hid a handler's error", async () => {
    // Observed, not replaced: jest's sandboxed `process` does not pass warnings to listeners.
    const warn = jest.spyOn(process, 'emitWarning');
    const { app, broker, hello, letters } = await started({ keepErrors: false });
    try {
      await broker.publish('hello', [hello(13), hello(0)]);
      const dead = await letters(2);
      expect(dead.map((letter) => letter.reason)).toEqual([
        'Internal server error',
        'Internal server error',
      ]);
      const ours = warn.mock.calls.filter(
        ([, options]) =>
          (options as { code?: string } | undefined)?.code === 'CAUSEWAY_RPC_ERROR_REPLACED',
      );
      expect(ours).toHaveLength(1);
      expect(String(ours[0]![0])).toContain('Put @UseFilters(KeepRpcErrors) on its controller');
    } finally {
      warn.mockRestore();
      await app.close();
    }
  });
});

it('refuses at construction a group, consumer or maxInFlight every subscriber would refuse', () => {
  const subscriber = new InMemoryBroker({ serializer: new SerializerRegistry() }).subscriber();
  expect(
    () => new CausewayTransportServer({ subscriber, group: 'g', consumer: 'c', maxInFlight: 0 }),
  ).toThrow(
    new TypeError(
      'CausewayTransportServer: options.maxInFlight must be a positive safe integer, got 0',
    ),
  );
  expect(() => new CausewayTransportServer({ subscriber, group: '', consumer: 'c' })).toThrow(
    /options\.group must be a non-empty string, got ""/,
  );
});

it('refuses at construction a subscriber that is not one, naming the option', () => {
  // Unchecked, it started and failed at listen ("reading 'subscribe'") or at close.
  for (const [subscriber, got] of [
    [undefined, 'undefined'],
    ['redis://cache:6379', '"redis://cache:6379"'],
    [{ close: async () => undefined }, 'an object without subscribe'],
    [Promise.resolve({}), 'an object without subscribe'],
  ] as const)
    expect(
      () =>
        new CausewayTransportServer({
          subscriber: subscriber as unknown as Subscriber,
          group: 'g',
          consumer: 'c',
        }),
    ).toThrow(
      new TypeError(
        `CausewayTransportServer: options.subscriber must be a subscriber (with subscribe and ` +
          `close), got ${got}`,
      ),
    );
});

it('closes its subscriber even when closing a subscription fails, and says why', async () => {
  const closed: string[] = [];
  const subscriber: Subscriber = {
    subscribe: async (topics) => ({
      close: async () => {
        closed.push(`subscription ${topics.join(', ')}`);
        throw new Error('connection lost while releasing its leases');
      },
    }),
    close: async () => void closed.push('subscriber'),
  };
  const moduleRef = await Test.createTestingModule({ controllers: [Greetings] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  const server = new CausewayTransportServer({ subscriber, group: 'greeter', consumer: 'c1' });
  app.connectMicroservice({ strategy: server });
  await app.startAllMicroservices();
  await app.init();
  await expect(server.close()).rejects.toThrow('connection lost while releasing its leases');
  expect(closed).toEqual(['subscription hello', 'subscription relay', 'subscriber']);
  await app.close();
});

/**
 * Connects a microservice whose one handler is decorated with `pattern`, as Nest registers the
 * handlers then: what it threw (if anything) and the topics it subscribed to.
 */
async function connectWithPattern(
  decorator: 'EventPattern' | 'MessagePattern',
  pattern: unknown,
): Promise<{ refused: unknown; topics: string[][] }> {
  const decorate = decorator === 'EventPattern' ? EventPattern : MessagePattern;
  @Controller()
  class Patterned {
    @decorate(pattern as string)
    greet() {}
  }
  const topics: string[][] = [];
  const subscriber: Subscriber = {
    subscribe: async (subscribed) => {
      topics.push([...subscribed]);
      return { close: async () => undefined };
    },
    close: async () => undefined,
  };
  const moduleRef = await Test.createTestingModule({ controllers: [Patterned] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  let refused: unknown;
  try {
    app.connectMicroservice({
      strategy: new CausewayTransportServer({ subscriber, group: 'greeter', consumer: 'c1' }),
    });
  } catch (error) {
    refused = error;
  } finally {
    await app.close().catch(() => undefined);
  }
  return { refused, topics };
}

it.each([
  ['user:created', 'EventPattern'],
  ['user created', 'MessagePattern'],
] as const)(
  'refuses a handler whose pattern %j no transport takes as a topic, as it registers',
  async (pattern, decorator) => {
    // Nest's own examples name patterns `user:created`; Redis Streams' keys are ':'-separated.
    const { refused, topics } = await connectWithPattern(decorator, pattern);
    expect(refused).toBeInstanceOf(InvalidTopicError);
    expect((refused as Error).message).toContain(pattern);
    expect((refused as Error).message).toContain(`CausewayTransportServer @${decorator}`);
    expect(topics).toEqual([]);
  },
);

it.each([
  ['an object', { cmd: 'greet' }, 'EventPattern', '{"cmd":"greet"}'],
  ['a number', 42, 'EventPattern', '42'],
  ['an empty string', '', 'MessagePattern', '""'],
] as const)(
  'refuses a handler whose pattern is %s at start, naming it: it is no topic',
  async (_what, pattern, decorator, shown) => {
    // Nest turned an object into its JSON text, a number into its digits: the server
    // subscribed to a topic of that name, which nothing publishes to, and said nothing.
    const { refused, topics } = await connectWithPattern(decorator, pattern);
    expect(refused).toEqual(
      new TypeError(
        `CausewayTransportServer: the @${decorator}(${shown}) handler names no topic: its ` +
          'pattern must be a topic name (a non-empty string), which the server subscribes to',
      ),
    );
    expect(refused).toBeInstanceOf(TypeError);
    expect(topics).toEqual([]);
  },
);
