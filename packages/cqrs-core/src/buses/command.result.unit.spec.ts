import { z } from 'zod';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { MessageFactory } from '../messages/message.factory';
import { type MessageResult, type MessageType, messageType } from '../messages/message.type';
import { SerializerRegistry } from '../messages/serializer.registry';
import { deadLetter } from '../middleware/dead-letter.middleware';
import { deduplicator } from '../middleware/deduplicator.middleware';
import { InMemoryDeduplicationStore } from '../middleware/in-memory.deduplication-store';
import { retry } from '../middleware/retry.middleware';
import { Router } from '../router/router';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { topicNaming } from '../transport/topic.naming';
import {
  CommandRejectedError,
  CommandResultInvalidError,
  CommandResultNotKeptError,
} from './bus.errors';
import { CommandBus } from './command-bus';

// Type-level checks run in the typecheck script (tsc includes the spec files): it fails when a
// `@ts-expect-error` below has no error to expect, i.e. when a mismatched handler compiles.
const Deposit = messageType('Deposit', z.object({ amount: z.number() }), {
  result: z.object({ balance: z.number() }),
});
const Withdraw = messageType('Withdraw', z.object({ amount: z.number() }));
const messages = new MessageFactory();

/**
 * A service: its own registry, router and command bus, over one broker (the wire). With
 * `deduplicate`, its router remembers handled commands (maxResultBytes 1 KiB) as the
 * deduplicator's doc places it: outside retry, inside dead letter.
 */
function service(
  broker: InMemoryBroker,
  registry: SerializerRegistry,
  name: string,
  deduplicate = false,
) {
  const deadLetters = new InMemoryDeadLetterQueue();
  const router = new Router({ subscriber: broker.subscriber(), service: name, instanceId: name });
  router.use(
    deadLetter({ queue: deadLetters }),
    ...(deduplicate
      ? [deduplicator({ store: new InMemoryDeduplicationStore(), maxResultBytes: 1024 })]
      : []),
    retry({ maxAttempts: 3, initialDelayMs: 1 }),
  );
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

function setup(options: { types?: readonly MessageType[]; deduplicate?: boolean } = {}) {
  const registry = new SerializerRegistry().register(Deposit).register(Withdraw);
  for (const type of options.types ?? []) registry.register(type);
  const broker = new InMemoryBroker({ serializer: registry, redeliveryDelayMs: 5 });
  const worker = service(broker, registry, 'worker', options.deduplicate);
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

  it('resolves with the result schema output, also of a handler registered by name', async () => {
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

  it('sends the result as JSON: z.date() is refused at the handler saying so, z.coerce.date() gives a Date', async () => {
    const OpenDate = messageType('OpenDate', z.object({ owner: z.string() }), {
      result: z.object({ openedAt: z.date() }), // a Date does not cross the wire as one
    });
    const OpenAt = messageType('OpenAt', z.object({ owner: z.string() }), {
      result: z.object({ openedAt: z.coerce.date() }),
    });
    const { worker, api, stop } = setup({ types: [OpenDate, OpenAt] });
    const openedAt = new Date('2026-01-01T00:00:00.000Z');
    worker.commands.handle(OpenDate, () => ({ openedAt }));
    worker.commands.handle(OpenAt, () => ({ openedAt }));
    await Promise.all([worker.router.run(), api.router.run()]);
    const refused = await api.commands
      .request(messages.command(OpenDate, { owner: 'ada' }))
      .catch((e: unknown) => e);
    // Not a reply "of another version" at the requester: the handler's side names the cause.
    expect(refused).toBeInstanceOf(CommandRejectedError);
    expect(refused).toMatchObject({
      remoteName: 'CommandResultInvalidError',
      message: expect.stringMatching(/openedAt: .*crosses the wire as JSON.*z\.coerce\.date\(\)/),
    });
    expect(await worker.deadLetters.list({ type: 'OpenDate' })).toHaveLength(1);
    const reply = await api.commands.request(messages.command(OpenAt, { owner: 'ada' }));
    const at: Date = reply.openedAt; // the output type
    expect(at).toEqual(openedAt);
    expect(await worker.deadLetters.list({ type: 'OpenAt' })).toEqual([]);
    await stop();
  });

  it('applies a transform of the result once, at the requester', async () => {
    // The handler answers cents; the schema turns them into euros.
    const Price = messageType('Price', z.object({ sku: z.string() }), {
      result: z.object({ euros: z.number().transform((cents) => cents / 100) }),
    });
    const { worker, api, stop } = setup({ types: [Price] });
    worker.commands.handle(Price, () => ({ euros: 1234 }));
    await Promise.all([worker.router.run(), api.router.run()]);
    const reply = await api.commands.request(messages.command(Price, { sku: 'x' }));
    expect(reply).toEqual({ euros: 12.34 });
    await stop();
  });

  it('takes the answer of a type-changing transform in its input type and resolves with its output', async () => {
    const Tag = messageType('Tag', z.object({ id: z.string() }), {
      result: z.object({ tags: z.string().transform((csv) => csv.split(',')) }),
    });
    const { worker, api, stop } = setup({ types: [Tag] });
    worker.commands.handle(Tag, () => ({ tags: 'a,b' })); // the input: a string
    await Promise.all([worker.router.run(), api.router.run()]);
    const reply = await api.commands.request(messages.command(Tag, { id: '1' }));
    const tags: string[] = reply.tags; // the output
    expect(tags).toEqual(['a', 'b']);
    expect(await worker.deadLetters.list()).toEqual([]);
    await stop();
  });

  it('parses the reply with the result schema of the type the command was made from when its registry has none', async () => {
    const Tag = messageType('Tag', z.object({ id: z.string() }), {
      result: z.object({ tags: z.string().transform((csv) => csv.split(',')) }),
    });
    const { broker, worker, stop } = setup({ types: [Tag] });
    // This service registered the type by name, data only: its registry knows no result.
    const registry = new SerializerRegistry().register('Tag', z.object({ id: z.string() }));
    const api = service(broker, registry, 'api-by-name');
    worker.commands.handle(Tag, () => ({ tags: 'a,b' }));
    await Promise.all([worker.router.run(), api.router.run()]);
    const reply = await api.commands.request(messages.command(Tag, { id: '1' }));
    const tags: string[] = reply.tags; // the type is the schema's output: so is the value
    expect(tags).toEqual(['a', 'b']);
    // Through withDeadline's copy of the envelope too.
    const timed = await api.commands.request(messages.command(Tag, { id: '2' }), {
      deadlineMs: 5_000,
    });
    expect(timed.tags).toEqual(['a', 'b']);
    await api.router.close();
    api.commands.close();
    await stop();
  });

  it('dead-letters a result its schema cannot check, without running the handler again', async () => {
    const Charge = messageType('Charge', z.object({ amount: z.number() }), {
      result: z.object({ chargeId: z.string() }).refine(async () => true),
    });
    const { worker, api, stop } = setup({ types: [Charge] });
    let charges = 0;
    worker.commands.handle(Charge, () => {
      charges++; // a side effect: a card is charged
      return { chargeId: `ch-${charges}` };
    });
    await Promise.all([worker.router.run(), api.router.run()]);
    const error = await api.commands
      .request(messages.command(Charge, { amount: 5 }))
      .catch((e: unknown) => e);
    expect(charges).toBe(1);
    expect(error).toBeInstanceOf(CommandRejectedError);
    expect(error).toMatchObject({
      remoteName: 'CommandResultInvalidError',
      message: expect.stringMatching(/result of Charge .* could not be checked .*asynchronous/),
    });
    const letters = await worker.deadLetters.list({ type: 'Charge' });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ errorName: 'CommandResultInvalidError' });
    await stop();
  });

  it('refuses an Invalid Date rather than sending null, which z.coerce.date() reads as 1970-01-01', async () => {
    const Open = messageType('Open', z.object({ id: z.string() }), {
      result: z.object({ account: z.object({ openedAt: z.coerce.date() }) }),
    });
    const { worker, api, stop } = setup({ types: [Open] });
    // A date parsed from bad input: its toJSON is null, and new Date(null) is a valid Date.
    worker.commands.handle(Open, () => ({ account: { openedAt: new Date('garbage') } }));
    await Promise.all([worker.router.run(), api.router.run()]);
    const error = await api.commands
      .request(messages.command(Open, { id: '1' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandRejectedError);
    expect(error).toMatchObject({
      remoteName: 'CommandResultInvalidError',
      message: expect.stringMatching(
        /result of Open .* could not be checked .*account\.openedAt: an Invalid Date, which JSON sends as null/,
      ),
    });
    await stop();
  });

  it('refuses NaN, Infinity, a Map or a Set rather than sending null or {}', async () => {
    const Rate = messageType('Rate', z.object({ of: z.string() }), {
      result: z.object({ rate: z.coerce.number(), seen: z.unknown() }),
    });
    const { worker, api, stop } = setup({ types: [Rate] });
    const answers: Record<string, unknown> = {
      nan: { rate: 0 / 0 }, // JSON null, and Number(null) is 0
      infinite: { rate: 1 / 0 },
      map: { rate: 1, seen: new Map([['a', 1]]) },
      set: { rate: 1, seen: [new Set([1])] },
    };
    worker.commands.handle(
      Rate,
      (command) => answers[command.data.of] as { rate: unknown; seen: unknown },
    );
    await Promise.all([worker.router.run(), api.router.run()]);
    const problems: Record<string, string> = {
      nan: 'rate: NaN, which JSON sends as null',
      infinite: 'rate: Infinity, which JSON sends as null',
      map: 'seen: a Map, which JSON sends as {}',
      set: 'seen.0: a Set, which JSON sends as {}',
    };
    for (const [of, problem] of Object.entries(problems)) {
      const error = await api.commands
        .request(messages.command(Rate, { of }))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CommandRejectedError);
      expect((error as Error).message).toContain(problem);
    }
    await stop();
  });

  it('rejects a reply its own schema cannot check with a CommandResultInvalidError saying so', async () => {
    const { broker, worker, stop } = setup();
    // The requester's Deposit result schema throws while it reads (a transform's bug).
    const Throwing = messageType('Deposit', z.object({ amount: z.number() }), {
      result: z.object({ balance: z.number() }).transform((): number => {
        throw new Error('no rate for EUR');
      }),
    });
    const api = service(broker, new SerializerRegistry().register(Throwing), 'api-throwing');
    worker.commands.handle(Deposit, (command) => ({ balance: command.data.amount }));
    await Promise.all([worker.router.run(), api.router.run()]);
    const error = await api.commands
      .request(messages.command(Throwing, { amount: 5 }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandResultInvalidError);
    expect(error).toMatchObject({ side: 'reply', reason: 'unchecked', field: '' });
    expect((error as Error).message).toMatch(/could not be checked .*no rate for EUR/);
    await api.router.close();
    api.commands.close();
    await stop();
  });

  it('rejects a repeat of a command whose result failed the check the same way, without running the handler again', async () => {
    const { worker, api, stop } = setup({ deduplicate: true });
    let deposits = 0;
    worker.commands.handle(Deposit, () => {
      deposits++; // the effect (an append, a write)
      return JSON.parse('{"balance":"ten"}') as { balance: number }; // the handler's bug
    });
    await Promise.all([worker.router.run(), api.router.run()]);
    const command = messages.command(Deposit, { amount: 10 });
    const first = await api.commands.request(command).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(CommandRejectedError);
    expect(first).toMatchObject({ remoteName: 'CommandResultInvalidError' });
    // The documented idempotent retry (same messageId): the first outcome, not a second deposit.
    const again = await api.commands.request(command).catch((e: unknown) => e);
    expect(deposits).toBe(1);
    expect(again).toBeInstanceOf(CommandRejectedError);
    expect(again).toMatchObject({
      remoteName: 'CommandResultInvalidError',
      message: (first as Error).message,
    });
    expect(await worker.deadLetters.list({ type: 'Deposit' })).toHaveLength(2);
    await stop();
  });

  it('answers a repeated request whose result was too large to keep with CommandResultNotKeptError', async () => {
    const Report = messageType('Report', z.object({ month: z.string() }), {
      result: z.object({ rows: z.array(z.string()) }),
    });
    const Ping = messageType('Ping', z.object({}), { result: z.void() });
    const { worker, api, stop } = setup({ types: [Report, Ping], deduplicate: true });
    let runs = 0;
    worker.commands.handle(Report, () => {
      runs++;
      return { rows: Array.from({ length: 200 }, (_, i) => `row ${i}`) }; // over 1 KiB
    });
    worker.commands.handle(Ping, () => undefined);
    await Promise.all([worker.router.run(), api.router.run()]);
    const command = messages.command(Report, { month: '2026-10' });
    const first = await api.commands.request(command);
    expect(first.rows).toHaveLength(200);
    // The client's retry of the same command (after a lost response): handled once already.
    const again = await api.commands.request(command).catch((e: unknown) => e);
    expect(runs).toBe(1);
    expect(again).toBeInstanceOf(CommandResultNotKeptError);
    expect(again).toBeInstanceOf(CommandRejectedError);
    expect(again).toMatchObject({
      commandId: command.messageId,
      commandType: 'Report',
      remoteName: 'CommandResultNotKeptError',
      refused: false,
      message: expect.stringMatching(/handled once already and its result was not kept/),
    });
    // A result of undefined is no result lost: its repeat still answers undefined.
    const ping = messages.command(Ping, {});
    expect(await api.commands.request(ping)).toBeUndefined();
    expect(await api.commands.request(ping)).toBeUndefined();
    expect(await worker.deadLetters.list()).toEqual([]);
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
