import { testNamespace } from '@causeway/testkit';
import { z } from 'zod';
import {
  CommandBus,
  CommandRejectedError,
  CommandResultInvalidError,
  CommandResultNotKeptError,
  deadLetter,
  deduplicator,
  InMemoryDeadLetterQueue,
  MessageFactory,
  messageType,
  retry,
  Router,
  SerializerRegistry,
  topicNaming,
} from '../src';
import {
  RedisDeduplicationStore,
  RedisStreamsPublisher,
  RedisStreamsSubscriber,
  redisConnection,
} from '../src/redis';

// Declared command results over a real broker: the handling service runs the current release,
// the requesting one the next, whose Deposit answers a currency too. Each has its own registry,
// as two deployments do.

const ns = testNamespace('cmdresult');
const redis = redisConnection({ url: ns.redisUrl, name: 'command-result' });
const layout = { keyPrefix: ns.keyPrefix, partitions: 1 };
const naming = topicNaming('result.');
const closers: (() => Promise<void> | void)[] = [];
const messages = new MessageFactory();

const Open = messageType('Open', z.object({ owner: z.string() }), {
  result: z.object({ accountId: z.string() }),
});
const Audit = messageType('Audit', z.object({ accountId: z.string() }), {
  result: z.object({ entries: z.number().int() }),
});
const Deposit = messageType('Deposit', z.object({ amount: z.number() }), {
  result: z.object({ balance: z.number() }),
});
const DepositNext = messageType('Deposit', z.object({ amount: z.number() }), {
  result: z.object({ balance: z.number(), currency: z.string() }),
});
// The reply is JSON, parsed into the output once, at the requester (a Date, cents to euros);
// the deduplicator keeps up to 1 KiB of it.
const Statement = messageType('Statement', z.object({ accountId: z.string() }), {
  result: z.object({
    at: z.coerce.date(),
    euros: z.number().transform((cents) => cents / 100),
    lines: z.array(z.string()),
  }),
});
const STATEMENT_AT = new Date('2026-10-01T00:00:00.000Z');

async function service(name: string, serializer: SerializerRegistry, deduplicate = false) {
  const letters = new InMemoryDeadLetterQueue({ serializer });
  const publisher = new RedisStreamsPublisher({ client: redis.client, serializer, ...layout });
  const subscriber = new RedisStreamsSubscriber({
    client: redis.client,
    serializer,
    ...layout,
    blockMs: 100,
    heartbeatMs: 100,
    leaseTtlMs: 400,
  });
  const router = new Router({ subscriber, service: name, instanceId: `${name}-${ns.id}` });
  router.use(
    deadLetter({ queue: letters }),
    ...(deduplicate
      ? [
          deduplicator({
            store: new RedisDeduplicationStore(redis.client, { keyPrefix: ns.keyPrefix }),
            maxResultBytes: 1024,
          }),
        ]
      : []),
    retry({ maxAttempts: 3, initialDelayMs: 1 }),
  );
  const bus = new CommandBus({
    publisher,
    router,
    naming,
    serializer,
    instanceId: `${name}-${ns.id}`,
    timeoutMs: 8_000,
  });
  closers.push(async () => {
    await router.close();
    bus.close();
    await subscriber.close();
    await publisher.close();
  });
  return { bus, router, letters };
}

let handler: Awaited<ReturnType<typeof service>>;
let requester: Awaited<ReturnType<typeof service>>;
let audits = 0;
let statements = 0;

beforeAll(async () => {
  await redis.open();
  handler = await service(
    'accounts',
    new SerializerRegistry().register(Open).register(Audit).register(Deposit).register(Statement),
    true,
  );
  handler.bus.handle(Open, (command) => ({ accountId: `acc-${command.data.owner}` }));
  handler.bus.handle(Audit, () => {
    audits++;
    return JSON.parse('{"entries":"three"}') as { entries: number }; // the handler's bug
  });
  handler.bus.handle(Deposit, (command) => ({ balance: command.data.amount }));
  handler.bus.handle(Statement, (command) => {
    statements++;
    const lines = Array.from({ length: command.data.accountId === 'big' ? 200 : 2 }, String);
    return { at: STATEMENT_AT, euros: 1234, lines };
  });
  requester = await service(
    'api',
    new SerializerRegistry()
      .register(Open)
      .register(Audit)
      .register(DepositNext)
      .register(Statement),
  );
  requester.bus.ensureRepliesSubscribed();
  await Promise.all([handler.router.run(), requester.router.run()]);
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  const keys = await redis.client.keys(`${ns.keyPrefix}*`);
  if (keys.length > 0) await redis.client.del(...keys);
  await redis.close();
});

describe('declared command results over Redis Streams', () => {
  jest.setTimeout(30_000);

  it('resolves with the declared result', async () => {
    const reply = await requester.bus.request(messages.command(Open, { owner: 'ada' }));
    const accountId: string = reply.accountId;
    expect(accountId).toBe('acc-ada');
  });

  it("dead-letters a handler's wrong answer and names the field to the requester", async () => {
    const command = messages.command(Audit, { accountId: 'acc-ada' });
    const error = await requester.bus.request(command).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandRejectedError);
    expect(error).toMatchObject({
      remoteName: 'CommandResultInvalidError',
      message: expect.stringContaining('entries: Invalid input: expected number'),
    });
    expect(audits).toBe(1);
    expect(await handler.letters.list({ type: 'Audit' })).toEqual([
      expect.objectContaining({
        errorName: 'CommandResultInvalidError',
        envelope: expect.objectContaining({ messageId: command.messageId }),
      }),
    ]);
    // The handler took effect before its answer was refused: a repeat (the Redis deduplication
    // store kept the failure) gets the same refusal and never runs the handler again.
    const again = await requester.bus.request(command).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(CommandRejectedError);
    expect((again as Error).message).toContain('entries: Invalid input: expected number');
    expect(audits).toBe(1);
  });

  it("rejects a reply of the other release's shape, naming the field", async () => {
    const error = await requester.bus
      .request(messages.command(DepositNext, { amount: 5 }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandResultInvalidError);
    expect(error).toMatchObject({ field: 'currency', side: 'reply', commandType: 'Deposit' });
    expect(await handler.letters.list({ type: 'Deposit' })).toEqual([]);
  });

  it('parses the JSON reply into the output once (a Date, a transform); a repeat gets the same', async () => {
    const command = messages.command(Statement, { accountId: 'small' });
    const first = await requester.bus.request(command);
    const at: Date = first.at;
    expect(at).toEqual(STATEMENT_AT);
    expect(first.euros).toBe(12.34); // not 0.1234: the transform ran once
    const again = await requester.bus.request(command); // remembered by the deduplicator
    expect(again).toEqual(first);
    expect(statements).toBe(1);
  });

  it('rejects a repeat whose result was too large to keep with CommandResultNotKeptError', async () => {
    const command = messages.command(Statement, { accountId: 'big' });
    const before = statements;
    expect((await requester.bus.request(command)).lines).toHaveLength(200);
    const again = await requester.bus.request(command).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(CommandResultNotKeptError);
    expect(again).toMatchObject({ remoteName: 'CommandResultNotKeptError', refused: false });
    expect(statements).toBe(before + 1);
    expect(await handler.letters.list({ type: 'Statement' })).toEqual([]);
  });
});
