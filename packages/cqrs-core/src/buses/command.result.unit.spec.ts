import { z } from 'zod';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { MessageFactory } from '../messages/message.factory';
import { type MessageResult, messageType } from '../messages/message.type';
import { SerializerRegistry } from '../messages/serializer.registry';
import { deadLetter } from '../middleware/dead-letter.middleware';
import { retry } from '../middleware/retry.middleware';
import { Router } from '../router/router';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { topicNaming } from '../transport/topic.naming';
import { CommandRejectedError, CommandResultInvalidError } from './bus.errors';
import { CommandBus } from './command-bus';

// Type-level checks run in the typecheck script (tsc includes the spec files): it fails when a
// `@ts-expect-error` below has no error to expect, i.e. when a mismatched handler compiles.
const Deposit = messageType('Deposit', z.object({ amount: z.number() }), {
  result: z.object({ balance: z.number() }),
});
const Withdraw = messageType('Withdraw', z.object({ amount: z.number() }));
const messages = new MessageFactory();

/** A service: its own registry, router and command bus, over one broker (the wire). */
function service(broker: InMemoryBroker, registry: SerializerRegistry, name: string) {
  const deadLetters = new InMemoryDeadLetterQueue();
  const router = new Router({ subscriber: broker.subscriber(), service: name, instanceId: name });
  router.use(deadLetter({ queue: deadLetters }), retry({ maxAttempts: 3, initialDelayMs: 1 }));
  const commands = new CommandBus({
    publisher: broker,
    router,
    naming: topicNaming('result.'),
    serializer: registry,
    instanceId: name,
    timeoutMs: 2_000,
  });
  return { router, commands, deadLetters };
}

function setup() {
  const registry = new SerializerRegistry().register(Deposit).register(Withdraw);
  const broker = new InMemoryBroker({ serializer: registry, redeliveryDelayMs: 5 });
  const worker = service(broker, registry, 'worker');
  const api = service(broker, registry, 'api');
  const stop = async () => {
    await Promise.all([worker.router.close(), api.router.close()]);
    worker.commands.close();
    api.commands.close();
    await broker.close();
  };
  return { registry, broker, worker, api, stop };
}

describe('command types that declare their result', () => {
  it('resolves a request with the declared result, typed without a generic', async () => {
    const { worker, api, stop } = setup();
    worker.commands.handle(Deposit, (command) => ({ balance: command.data.amount * 2 }));
    worker.commands.handle(Withdraw, () => ({ ok: true }));
    await Promise.all([worker.router.run(), api.router.run()]);
    const reply = await api.commands.request(messages.command(Deposit, { amount: 21 }));
    const balance: number = reply.balance; // typed: { balance: number }
    expect(balance).toBe(42);
    const typed: MessageResult<typeof Deposit> = reply;
    expect(typed).toEqual({ balance: 42 });
    // An explicit generic still types a command of a type without a result.
    const untyped = messages.command(Withdraw, { amount: 1 });
    const explicit = await api.commands.request<{ ok: boolean }>(untyped);
    expect(explicit.ok).toBe(true);
    await stop();
  });

  it('dead-letters a command whose handler answers another shape, and names the field to its requester', async () => {
    const { worker, api, stop } = setup();
    let runs = 0;
    worker.commands.handle(Deposit, () => {
      runs++;
      // A handler whose answer escapes the compiler (data read from elsewhere).
      return JSON.parse('{"balance":"42"}') as { balance: number };
    });
    await Promise.all([worker.router.run(), api.router.run()]);
    const command = messages.command(Deposit, { amount: 21 });
    const error = await api.commands.request(command).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandRejectedError);
    expect(error).toMatchObject({
      remoteName: 'CommandResultInvalidError',
      refused: false,
      message: expect.stringMatching(/result of Deposit .* balance: .*expected number/),
    });
    expect(runs).toBe(1); // a PermanentError: not retried
    const letters = await worker.deadLetters.list({ type: 'Deposit' });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      errorName: 'CommandResultInvalidError',
      envelope: { messageId: command.messageId },
    });
    await stop();
  });

  it("rejects a reply of another version's shape with an error naming the field", async () => {
    const { registry, broker, worker, stop } = setup();
    // The requesting service runs the next release: Deposit answers a currency too.
    const DepositV2 = messageType('Deposit', z.object({ amount: z.number() }), {
      result: z.object({ balance: z.number(), currency: z.string() }),
    });
    const next = new SerializerRegistry().register(DepositV2).register(Withdraw);
    const api = service(broker, next, 'api-next');
    worker.commands.handle(Deposit, (command) => ({ balance: command.data.amount }));
    await Promise.all([worker.router.run(), api.router.run()]);
    const request = api.commands.request(messages.command(DepositV2, { amount: 5 }));
    const error = await request.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandResultInvalidError);
    expect(error).toMatchObject({ field: 'currency', side: 'reply', commandType: 'Deposit' });
    expect((error as Error).message).toMatch(/reply's result of Deposit .* currency: /);
    // The handler did its part: nothing dead-lettered on its side.
    expect(await worker.deadLetters.list()).toEqual([]);
    expect(registry.resultSchema('Deposit')).toBe(Deposit.result);
    await api.router.close();
    api.commands.close();
    await stop();
  });

  it('replies with the result schema output, also to a handler registered by name', async () => {
    const Transfer = messageType('Transfer', z.object({ amount: z.number() }), {
      result: z.object({ id: z.string(), fee: z.number().default(0) }),
    });
    const { registry, worker, api, stop } = setup();
    registry.register(Transfer);
    // By name (as the Nest explorer registers): the registry's result schema applies.
    worker.commands.handle('Transfer', () => ({ id: 't-1', secret: 'stripped' }));
    await Promise.all([worker.router.run(), api.router.run()]);
    const reply = await api.commands.request(messages.command(Transfer, { amount: 1 }));
    expect(reply).toEqual({ id: 't-1', fee: 0 });
    await stop();
  });

  it('leaves the result of a type without one unchecked, as before', async () => {
    const { worker, api, stop } = setup();
    worker.commands.handle(Withdraw, () => ({ anything: ['goes'], extra: 1 }));
    await Promise.all([worker.router.run(), api.router.run()]);
    const reply: unknown = await api.commands.request(messages.command(Withdraw, { amount: 1 }));
    expect(reply).toEqual({ anything: ['goes'], extra: 1 });
    expect(await worker.deadLetters.list()).toEqual([]);
    await stop();
  });

  it('lets the compiler refuse handlers and requests of another result', () => {
    const { worker, api } = setup();
    // Functions not called: the checks are the compiler's.
    const refused = [
      // @ts-expect-error the handler must answer { balance: number }
      () => worker.commands.handle(Deposit, () => ({ balance: 'many' })),
      // @ts-expect-error a list of result-declaring types: the answer is checked too
      () => worker.commands.handle([Deposit], async () => 'a string'),
      // @ts-expect-error the request resolves to { balance: number }, not a string
      (): Promise<string> => api.commands.request(messages.command(Deposit, { amount: 1 })),
      // @ts-expect-error an explicit generic that contradicts the declared result
      () => api.commands.request<{ other: string }>(messages.command(Deposit, { amount: 1 })),
    ];
    expect(refused).toHaveLength(4);
    expect(() =>
      messageType('Bad', z.object({}), { result: { balance: 'number' } as never }),
    ).toThrow('messageType(Bad): result must be a zod schema');
    expect(() =>
      new SerializerRegistry().register('Bad', z.object({}), { result: 'x' as never }),
    ).toThrow('SerializerRegistry.register(Bad): options.result must be a zod schema');
  });
});
