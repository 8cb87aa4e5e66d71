import {
  type Decider,
  type DomainEventOf,
  EventBus,
  foldEvents,
  InMemoryBroker,
  MessageFactory,
  messageType,
  MessageValidationError,
  Router,
  SerializerRegistry,
  topicNaming,
} from '@causeway/cqrs-core';
import { z } from 'zod';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('guide: typed message types', () => {
  it('checks created data and types handlers from one definition', async () => {
    // #region guide:message-types
    const MoneyDeposited = messageType(
      'MoneyDeposited',
      z.object({ amount: z.number().positive() }),
    );
    const MoneyWithdrawn = messageType(
      'MoneyWithdrawn',
      z.object({ amount: z.number().positive(), reason: z.string() }),
      { version: 2 },
    );
    type BalanceEvent = DomainEventOf<typeof MoneyDeposited | typeof MoneyWithdrawn>;

    const serializer = new SerializerRegistry().register(MoneyDeposited).register(MoneyWithdrawn);
    const broker = new InMemoryBroker({ serializer });
    const router = new Router({
      subscriber: broker.subscriber(),
      service: 'bank',
      instanceId: 'i1',
    });
    const events = new EventBus({ publisher: broker, router, naming: topicNaming('bank.') });
    const messages = new MessageFactory();
    const deposited = messages.event(MoneyDeposited, { amount: 50 }, { aggregateId: 'acc-1' });
    // messages.event(MoneyDeposited, { amount: '50' }) does not compile

    const ledger: string[] = [];
    events.on(
      [MoneyDeposited, MoneyWithdrawn],
      (event) => {
        // event.type narrows event.data: only a withdrawal has a reason
        if (event.type === 'MoneyWithdrawn')
          ledger.push(`-${event.data.amount} ${event.data.reason}`);
        else ledger.push(`+${event.data.amount}`);
      },
      { name: 'ledger' },
    );

    const balance: Pick<Decider<never, BalanceEvent, number>, 'evolve' | 'initialState'> = {
      initialState: () => 0,
      evolve: (total, event) =>
        MoneyWithdrawn.is(event) ? total - event.data.amount : total + event.data.amount,
    };
    foldEvents(balance, [
      MoneyDeposited.of({ amount: 50 }),
      MoneyWithdrawn.of({ amount: 20, reason: 'rent' }),
    ]); // 30
    // #endregion
    await router.run();
    try {
      const withdrawn = messages.event(
        MoneyWithdrawn,
        { amount: 20, reason: 'rent' },
        { aggregateId: 'acc-1' },
      );
      await events.publish([deposited, withdrawn]);
      for (const deadline = Date.now() + 3_000; ledger.length < 2 && Date.now() < deadline;)
        await wait(5);
      expect(ledger).toEqual(['+50', '-20 rent']);
    } finally {
      await router.close();
    }
    expect(
      foldEvents(balance, [
        MoneyDeposited.of({ amount: 50 }),
        MoneyWithdrawn.of({ amount: 20, reason: 'rent' }),
      ]),
    ).toBe(30);
    expect(serializer.serialize(deposited).metadata.schemaVersion).toBe(1);
    // @ts-expect-error amount must be a number
    const wrong = messages.event(MoneyDeposited, { amount: '50' });
    expect(() => serializer.serialize(wrong)).toThrow(MessageValidationError);
  });
});
