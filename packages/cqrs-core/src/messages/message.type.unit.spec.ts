import { z } from 'zod';
import { CommandBus } from '../buses/command-bus';
import { EventBus } from '../buses/event-bus';
import { type Decider, foldEvents } from '../domain/decider';
import { Router } from '../router/router';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { topicNaming } from '../transport/topic.naming';
import { type Envelope } from './envelope';
import { MessageValidationError } from './message.errors';
import { MessageFactory } from './message.factory';
import {
  type CommandOf,
  type DomainEventOf,
  type EnvelopeOf,
  type MessageData,
  messageType,
  typeNamesOf,
} from './message.type';
import { SerializerRegistry } from './serializer.registry';

const DepositMade = messageType(
  'DepositMade',
  z.object({ accountId: z.string(), amount: z.number().positive() }),
);
const WithdrawalMade = messageType(
  'WithdrawalMade',
  z.object({ accountId: z.string(), amount: z.number(), reason: z.string() }),
  { version: 2 },
);
const OpenAccount = messageType('OpenAccount', z.object({ owner: z.string() }));

type AccountEvent = DomainEventOf<typeof DepositMade | typeof WithdrawalMade>;

/** Compiles only when A and B are the same type. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <A, B>(proof: Same<A, B>): Same<A, B> => proof;

describe('messageType', () => {
  it('infers the data type from the schema and carries name and version', () => {
    expect(same<MessageData<typeof DepositMade>, { accountId: string; amount: number }>(true)).toBe(
      true,
    );
    expect([DepositMade.type, DepositMade.version, WithdrawalMade.version]).toEqual([
      'DepositMade',
      1,
      2,
    ]);
    expect(Object.isFrozen(DepositMade)).toBe(true);
  });

  it('refuses an empty name or a version that is not a positive integer, naming it', () => {
    expect(() => messageType('', z.object({}))).toThrow(
      'messageType: the name must be a non-empty string, got ',
    );
    expect(() => messageType('Renamed', z.object({}), { version: 0 })).toThrow(
      'messageType(Renamed): version must be a positive integer, got 0',
    );
    expect(() => messageType('Renamed', z.object({}), { version: 1.5 })).toThrow('got 1.5');
  });

  it('builds domain events with `of` and narrows any message with `is`', () => {
    const events: AccountEvent[] = [
      DepositMade.of({ accountId: 'a', amount: 10 }),
      WithdrawalMade.of({ accountId: 'a', amount: 3, reason: 'rent' }, { tenant: 't1' }),
    ];
    expect(events[1]).toEqual({
      type: 'WithdrawalMade',
      data: { accountId: 'a', amount: 3, reason: 'rent' },
      metadata: { tenant: 't1' },
    });
    const reasons = events.filter((e) => WithdrawalMade.is(e)).map((e) => e.data.reason);
    expect(reasons).toEqual(['rent']);
    // @ts-expect-error amount must be a number
    DepositMade.of({ accountId: 'a', amount: '10' });
  });

  it('types a decider over a union of message types', () => {
    const account: Decider<CommandOf<typeof OpenAccount>, AccountEvent, number> = {
      initialState: () => 0,
      evolve: (balance, event) => {
        switch (event.type) {
          case 'DepositMade':
            return balance + event.data.amount;
          case 'WithdrawalMade':
            return balance - event.data.amount;
        }
      },
      decide: (command) => DepositMade.of({ accountId: command.data.owner, amount: 1 }),
    };
    const history: AccountEvent[] = [
      DepositMade.of({ accountId: 'a', amount: 10 }),
      WithdrawalMade.of({ accountId: 'a', amount: 4, reason: 'fee' }),
    ];
    expect(foldEvents(account, history)).toBe(6);
  });

  it('lists type names from names, message types or a mix, and names a bad entry', () => {
    expect(typeNamesOf(DepositMade)).toEqual(['DepositMade']);
    expect(typeNamesOf([DepositMade, 'Legacy', WithdrawalMade, 'DepositMade'])).toEqual([
      'DepositMade',
      'Legacy',
      'WithdrawalMade',
    ]);
    expect(() => typeNamesOf([DepositMade, 42 as unknown as string])).toThrow(
      'expected a message type name or a messageType(…), got 42',
    );
    expect(() => typeNamesOf([''])).toThrow('got ""');
  });
});

describe('SerializerRegistry with message types', () => {
  const factory = new MessageFactory();

  it('validates data against the type’s schema and stamps its version', () => {
    const registry = new SerializerRegistry().register(DepositMade).register(WithdrawalMade);
    const event = factory.event(
      WithdrawalMade,
      { accountId: 'a', amount: 5, reason: 'rent' },
      { aggregateId: 'a' },
    );
    expect(
      same<typeof event, Envelope<MessageData<typeof WithdrawalMade>, 'WithdrawalMade'>>(true),
    );
    const read = registry.deserialize(registry.serialize(event));
    expect(read.data).toEqual({ accountId: 'a', amount: 5, reason: 'rent' });
    expect(read.metadata.schemaVersion).toBe(2);
    const negative = factory.event(DepositMade, { accountId: 'a', amount: -1 });
    expect(() => registry.serialize(negative)).toThrow(MessageValidationError);
    expect(() => registry.serialize(negative)).toThrow(/amount/);
  });

  it('is checked by the compiler where the data is created', () => {
    const registry = new SerializerRegistry().register(DepositMade);
    // @ts-expect-error accountId is missing
    const wrong = factory.event(DepositMade, { amount: 1 });
    expect(() => registry.serialize(wrong)).toThrow(/accountId/);
    // A name keeps the untyped form: anything compiles, the registry checks at run time.
    expect(() => registry.serialize(factory.event('DepositMade', { amount: 1 }))).toThrow(
      /accountId/,
    );
  });

  it('runs upcasters registered under the message type', () => {
    const registry = new SerializerRegistry().register(WithdrawalMade);
    registry.upcaster(WithdrawalMade, 1, (data) => ({
      ...(data as object),
      reason: 'unknown',
    }));
    // Written when WithdrawalMade was at version 1, without a reason.
    const before = new SerializerRegistry().register('WithdrawalMade', z.unknown());
    const stored = before.serialize(factory.event('WithdrawalMade', { accountId: 'a', amount: 2 }));
    const read = registry.deserialize(stored);
    expect(read.data).toEqual({ accountId: 'a', amount: 2, reason: 'unknown' });
  });
});

describe('buses with message types', () => {
  function system() {
    const serializer = new SerializerRegistry()
      .register(DepositMade)
      .register(WithdrawalMade)
      .register(OpenAccount);
    const broker = new InMemoryBroker({ serializer, redeliveryDelayMs: 5 });
    const naming = topicNaming('typed.');
    const router = new Router({
      subscriber: broker.subscriber(),
      service: 'bank',
      instanceId: 'i',
    });
    return {
      router,
      events: new EventBus({ publisher: broker, router, naming }),
      commands: new CommandBus({ publisher: broker, router, naming, serializer, instanceId: 'i' }),
    };
  }

  it('hands a handler of several event types a union it narrows by type', async () => {
    const { router, events } = system();
    const seen: string[] = [];
    events.on(
      [DepositMade, WithdrawalMade],
      (event) => {
        expect(same<typeof event, EnvelopeOf<typeof DepositMade | typeof WithdrawalMade>>(true));
        if (event.type === 'DepositMade') seen.push(`+${event.data.amount}`);
        else seen.push(`-${event.data.amount} ${event.data.reason}`);
      },
      { name: 'ledger' },
    );
    await router.run();
    try {
      const factory = new MessageFactory();
      await events.publish([
        factory.event(DepositMade, { accountId: 'a', amount: 10 }, { aggregateId: 'a' }),
        factory.event(
          WithdrawalMade,
          { accountId: 'a', amount: 4, reason: 'fee' },
          { aggregateId: 'a' },
        ),
      ]);
      for (const deadline = Date.now() + 3_000; seen.length < 2 && Date.now() < deadline;)
        await new Promise((resolve) => setTimeout(resolve, 5));
      expect(seen.sort()).toEqual(['+10', '-4 fee']);
    } finally {
      await router.close();
    }
  });

  it('types the command a handler receives and answers a request with its result', async () => {
    const { router, commands } = system();
    commands.handle(OpenAccount, (command) => `opened for ${command.data.owner}`, {
      name: 'accounts',
    });
    await router.run();
    try {
      const reply = await commands.request<string>(
        new MessageFactory().command(OpenAccount, { owner: 'misty' }, { aggregateId: 'acc-1' }),
      );
      expect(reply).toBe('opened for misty');
    } finally {
      commands.close();
      await router.close();
    }
  });

  it('takes names and message types mixed, as a producer that still sends names would', async () => {
    const { router, events } = system();
    const seen: string[] = [];
    events.on([DepositMade, 'WithdrawalMade'], (event) => void seen.push(event.type), {
      name: 'mixed',
    });
    await router.run();
    try {
      const factory = new MessageFactory();
      await events.publish([
        factory.event('DepositMade', { accountId: 'a', amount: 1 }, { aggregateId: 'a' }),
        factory.event(
          WithdrawalMade,
          { accountId: 'a', amount: 1, reason: 'r' },
          { aggregateId: 'a' },
        ),
      ]);
      for (const deadline = Date.now() + 3_000; seen.length < 2 && Date.now() < deadline;)
        await new Promise((resolve) => setTimeout(resolve, 5));
      expect(seen.sort()).toEqual(['DepositMade', 'WithdrawalMade']);
    } finally {
      await router.close();
    }
  });

  it('refuses an empty list of event types, naming the handler', () => {
    const { events } = system();
    expect(() => events.on([], () => undefined, { name: 'nothing' })).toThrow(
      'EventBus.on(nothing): give at least one event type',
    );
  });
});
