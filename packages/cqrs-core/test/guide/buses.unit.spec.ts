import {
  CommandBus,
  CommandExpiredError,
  CommandRejectedError,
  CommandTimeoutError,
  deadLetter,
  deduplicator,
  derivedMessageId,
  EventBus,
  InMemoryBroker,
  InMemoryDeadLetterQueue,
  InMemoryDeduplicationStore,
  isRejectedWith,
  MessageFactory,
  messageType,
  retry,
  Router,
  SerializerRegistry,
  timeout,
  topicNaming,
} from '@causeway/cqrs-core';
import { z } from 'zod';
import { InsufficientFundsError } from './account.domain';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5_000; !done(); await wait(5))
    if (Date.now() > deadline) throw new Error('timed out');
}

const messages = new MessageFactory();

// #region guide:bus-setup
const serializer = new SerializerRegistry()
  .register('Deposit', z.object({ amount: z.number() }))
  .register('Withdraw', z.object({ amount: z.number() }))
  .register('MoneyDeposited', z.object({ amount: z.number() }));
const broker = new InMemoryBroker({ serializer }); // or RedisStreams…/Kafka… publisher + subscriber
const naming = topicNaming('bank.', { commandTopics: { Deposit: 'Account', Withdraw: 'Account' } });
const deadLetters = new InMemoryDeadLetterQueue();

/** One process ("instance") of a service. */
function instance(service: string, instanceId: string) {
  const router = new Router({ subscriber: broker.subscriber(), service, instanceId });
  // Outermost first: dead-letter what retry gave up on; retry transient failures.
  router.use(
    deadLetter({ queue: deadLetters }),
    deduplicator({ store: new InMemoryDeduplicationStore() }), // RedisDeduplicationStore to share
    retry({ maxAttempts: 3, initialDelayMs: 10 }),
    timeout(5_000),
  );
  const commands = new CommandBus({
    publisher: broker,
    router,
    naming,
    serializer,
    instanceId,
    timeoutMs: 2_000,
  });
  const events = new EventBus({ publisher: broker, router, naming });
  return { router, commands, events };
}
// #endregion

describe('guide: buses', () => {
  it('names topics', () => {
    // #region guide:topics
    naming.command('Deposit'); // 'bank.commands.Account' (shared with Withdraw)
    naming.command('CloseAccount'); // 'bank.commands.CloseAccount'
    naming.event('MoneyDeposited'); // 'bank.events.MoneyDeposited'
    naming.deadLetter('bank.events.MoneyDeposited'); // 'bank.dead-letters.events.MoneyDeposited'
    naming.reply('api-1'); // 'bank.replies.api-1'
    // #endregion
    expect(naming.command('Deposit')).toBe('bank.commands.Account');
    expect(naming.command('CloseAccount')).toBe('bank.commands.CloseAccount');
    expect(naming.event('MoneyDeposited')).toBe('bank.events.MoneyDeposited');
    expect(naming.deadLetter('bank.events.MoneyDeposited')).toBe(
      'bank.dead-letters.events.MoneyDeposited',
    );
    expect(naming.reply('api-1')).toBe('bank.replies.api-1');
  });

  it('sends commands and awaits replies', async () => {
    // #region guide:command-bus
    const worker = instance('accounts', 'worker-1');
    const balances = new Map<string, number>();
    worker.commands.handle<{ amount: number }>(['Deposit', 'Withdraw'], (command) => {
      const balance = balances.get(command.aggregateId) ?? 0;
      if (command.type === 'Withdraw' && balance < command.data.amount)
        throw new InsufficientFundsError(balance, command.data.amount); // a DomainError
      const next = balance + (command.type === 'Deposit' ? 1 : -1) * command.data.amount;
      balances.set(command.aggregateId, next);
      return { balance: next }; // the reply's result
    });

    const api = instance('api', 'api-1');
    await Promise.all([worker.router.run(), api.router.run()]);

    const deposit = messages.command('Deposit', { amount: 50 }, { aggregateId: 'acc-1' });
    const reply = await api.commands.request<{ balance: number }>(deposit); // { balance: 50 }

    const overdraw = messages.command('Withdraw', { amount: 80 }, { aggregateId: 'acc-1' });
    const refused = await api.commands.request(overdraw).catch((error: unknown) => error);
    // refused: a CommandRejectedError, remoteName 'InsufficientFundsError',
    // message 'cannot withdraw 80, balance is 50', code 'insufficient-funds',
    // details { balance: 50, amount: 80 }
    const missing = isRejectedWith(refused, InsufficientFundsError)
      ? Number(refused.details?.amount) - Number(refused.details?.balance)
      : undefined; // 30

    await api.commands.send(deposit); // fire and forget: resolves once the broker has it
    // #endregion
    expect(reply).toEqual({ balance: 50 });
    expect(refused).toBeInstanceOf(CommandRejectedError);
    expect(refused).toMatchObject({
      remoteName: 'InsufficientFundsError',
      message: 'cannot withdraw 80, balance is 50',
      code: 'insufficient-funds',
      details: { balance: 50, amount: 80 },
    });
    expect(isRejectedWith(refused, InsufficientFundsError)).toBe(true);
    expect(isRejectedWith(refused, CommandTimeoutError)).toBe(false);
    expect(missing).toBe(30);
    // A refusal is the command's outcome: nothing for an operator to replay.
    expect(await deadLetters.list({ type: 'Withdraw' })).toEqual([]);
    await Promise.all([worker.router.close(), api.router.close()]);
    api.commands.close();
  });

  it('times out when no handler answers', async () => {
    const api = instance('api2', 'api-2');
    await api.router.run();
    // #region guide:command-timeout
    const orphan = messages.command('Deposit', { amount: 1 }, { aggregateId: 'acc-9' });
    await expect(api.commands.request(orphan, { timeoutMs: 200 })).rejects.toThrow(
      CommandTimeoutError, // the command may still be handled later
    );
    // #endregion
    await api.router.close();
    api.commands.close();
  });

  it('refuses a command whose deadline passed before it reached its handler', async () => {
    const worker = instance('ledger', 'ledger-1');
    const handled: string[] = []; // an earlier test's orphan Deposit may come too
    worker.commands.handle('Deposit', (command) => void handled.push(command.messageId));
    const api = instance('api3', 'api-3');
    await api.router.run();
    // #region guide:command-deadline
    const deposit = messages.command('Deposit', { amount: 5 }, { aggregateId: 'acc-2' });
    // Handled within 100 ms of its creation, or not at all.
    const answer = api.commands.request(deposit, { deadlineMs: 100, timeoutMs: 5_000 });
    await wait(150); // the worker is down meanwhile
    await worker.router.run();
    await expect(answer).rejects.toThrow(CommandExpiredError); // its handler never ran
    // #endregion
    expect(handled).not.toContain(deposit.messageId);
    expect(await deadLetters.list({ type: 'Deposit' })).toEqual([]);
    await Promise.all([worker.router.close(), api.router.close()]);
    api.commands.close();
  });

  it('types and checks the result a command type declares', async () => {
    // #region guide:command-result
    const OpenAccount = messageType('OpenAccount', z.object({ owner: z.string() }), {
      result: z.object({ accountId: z.string() }), // what its handler answers
    });
    serializer.register(OpenAccount); // both sides check results against the registry's

    const worker = instance('onboarding', 'onboarding-1');
    // Answering another shape does not compile: `() => ({ id: 1 })` is refused.
    worker.commands.handle(OpenAccount, (command) => ({ accountId: `acc-${command.data.owner}` }));

    const api = instance('api4', 'api-4');
    await Promise.all([worker.router.run(), api.router.run()]);
    const open = messages.command(OpenAccount, { owner: 'ada' });
    const { accountId } = await api.commands.request(open); // a string: no generic written
    // #endregion
    expect(accountId).toBe('acc-ada');
    await Promise.all([worker.router.close(), api.router.close()]);
    api.commands.close();
  });

  it('delivers events competing or fan-out', async () => {
    // #region guide:event-bus
    const seen: string[] = [];
    for (const id of ['a', 'b']) {
      const { router, events } = instance('notifier', `notifier-${id}`);
      // competing (default): one instance of the service handles each event
      events.on('MoneyDeposited', () => void seen.push(`email by ${id}`), { name: 'email' });
      // fan-out: every instance handles every event (e.g. a local cache)
      events.on('MoneyDeposited', () => void seen.push(`cache ${id}`), {
        name: 'cache',
        mode: 'fan-out',
      });
      await router.run();
    }
    const publisher = instance('accounts', 'writer-1');
    await publisher.events.publish([
      messages.event('MoneyDeposited', { amount: 5 }, { aggregateId: 'acc-1' }),
    ]);
    // seen, in some order: one 'email by a|b', 'cache a', 'cache b'
    // #endregion
    await until(() => seen.length >= 3);
    await wait(100);
    expect(seen.filter((s) => s.startsWith('email'))).toHaveLength(1);
    expect(seen.filter((s) => s.startsWith('cache')).sort()).toEqual(['cache a', 'cache b']);
  });

  it('reacts to an event with a command, the same command on every delivery', async () => {
    const sent: string[] = [];
    // #region guide:process-manager
    // An audit log that is away at the first try of each event.
    const recorded = new Set<string>();
    const audit = {
      record: async (event: { messageId: string }) => {
        if (recorded.has(event.messageId)) return;
        recorded.add(event.messageId);
        throw new Error('audit log is away');
      },
    };
    const { router, events, commands } = instance('fees', 'fees-1');
    events.on(
      'MoneyDeposited',
      async (event) => {
        const fee = messages.command(
          'Withdraw',
          { amount: 1 },
          // The same id for every delivery of this event (a retry, a redelivery, a replay):
          // the receiver's deduplicator takes a repeat for what it is.
          { aggregateId: event.aggregateId, messageId: derivedMessageId(event, 'deposit-fee') },
        );
        await commands.send(fee);
        await audit.record(event); // fails once: the handler runs again and sends again
      },
      { name: 'deposit-fees' },
    );
    await router.run();
    // #endregion
    const send = commands.send.bind(commands);
    commands.send = async (command, options) => {
      sent.push(command.messageId);
      return send(command, options);
    };
    const deposit = messages.event('MoneyDeposited', { amount: 5 }, { aggregateId: 'acc-9' });
    await instance('accounts', 'writer-2').events.publish([deposit]);
    const fee = derivedMessageId(deposit, 'deposit-fee');
    // (The group also gets the topic's earlier deposits: only this one's fee is counted.)
    await until(() => sent.filter((id) => id === fee).length >= 2);
    expect(fee).not.toBe(derivedMessageId(deposit, 'another-reaction'));
    expect(fee).not.toBe(deposit.messageId);
  });

  it('retries transient failures, then dead-letters', async () => {
    // A broker of its own: a new group starts from the earliest message still in the topic.
    const broker = new InMemoryBroker({ serializer });
    const queue = new InMemoryDeadLetterQueue();
    const router = new Router({ subscriber: broker.subscriber(), service: 'dl', instanceId: 'i' });
    router.use(deadLetter({ queue }), retry({ maxAttempts: 3, initialDelayMs: 1 }));
    const events = new EventBus({ publisher: broker, router, naming });
    let calls = 0;
    let healthy = false;
    events.on(
      'MoneyDeposited',
      () => {
        calls++;
        if (!healthy) throw new Error('ledger service unavailable');
      },
      { name: 'ledger' },
    );
    await router.run();
    await events.publish([messages.event('MoneyDeposited', { amount: 7 }, { aggregateId: 'x' })]);
    await until(() => calls === 3);
    for (let i = 0; i < 200 && (await queue.stats()).total === 0; i++) await wait(10);
    // #region guide:dead-letters
    const stats = await queue.stats(); // { total: 1, byTopic: {…}, byReason: { Error: 1 } }
    const [letter] = await queue.list({ handler: 'ledger' });
    // letter.reason: 'ledger service unavailable', letter.originalTopic: 'bank.events.MoneyDeposited'

    // Fix the cause, then publish the letters again (same messageId) and remove them:
    healthy = true;
    const result = await queue.replay({ handler: 'ledger' }, broker); // { replayed: 1, … }
    // #endregion
    expect(stats.total).toBe(1);
    expect(letter).toMatchObject({
      reason: 'ledger service unavailable',
      originalTopic: 'bank.events.MoneyDeposited',
    });
    expect(result.replayed).toBe(1);
    await until(() => calls === 4);
    expect(await queue.list()).toEqual([]);
    await router.close();
  });

  it('retries and dead-letters an error that is neither a DomainError nor a PermanentError', async () => {
    const broker = new InMemoryBroker({ serializer });
    const queue = new InMemoryDeadLetterQueue();
    const router = new Router({ subscriber: broker.subscriber(), service: 's', instanceId: 'i' });
    router.use(deadLetter({ queue }), retry({ maxAttempts: 3, initialDelayMs: 5 }));
    const bus = new CommandBus({ publisher: broker, router, naming, serializer, instanceId: 'i' });
    let calls = 0;
    class LedgerTimeout extends Error {}
    bus.handle('Withdraw', () => {
      calls++;
      throw new LedgerTimeout('ledger did not answer');
    });
    await router.run();
    const error = (await bus
      .request(messages.command('Withdraw', { amount: 1 }, { aggregateId: 'acc-1' }))
      .catch((e: unknown) => e)) as CommandRejectedError;
    expect(calls).toBe(3); // retried as if transient
    expect(error).toBeInstanceOf(CommandRejectedError);
    expect(error.remoteName).toBe('LedgerTimeout'); // the class name, as it kept name 'Error'
    expect((await queue.stats()).total).toBe(1);
    await router.close();
    bus.close();
  });
});
