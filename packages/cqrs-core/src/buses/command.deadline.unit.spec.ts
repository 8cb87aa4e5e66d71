import { z } from 'zod';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { type Envelope } from '../messages/envelope';
import { SerializerRegistry } from '../messages/serializer.registry';
import { deadLetter } from '../middleware/dead-letter.middleware';
import { retry } from '../middleware/retry.middleware';
import { type Middleware } from '../router/handler';
import { Router } from '../router/router';
import { testEnvelope } from '../testing/envelope.fixture';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { topicNaming } from '../transport/topic.naming';
import { CommandExpiredError, CommandRejectedError } from './bus.errors';
import { checkDeadline, InvalidCommandDeadlineError, withDeadline } from './command.deadline';
import { CommandBus, type CommandBusOptions, Refusal } from './command-bus';

// Deadlines on the in-memory transport, a real product: the check is the bus's, so it holds
// alike on Redis Streams and Kafka.

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function system(options: { retryDelayMs?: number } = {}) {
  const serializer = new SerializerRegistry().register('Move', z.object({ dx: z.number() }));
  const broker = new InMemoryBroker({ serializer, redeliveryDelayMs: 5 });
  const naming = topicNaming('deadline.');
  const deadLetters = new InMemoryDeadLetterQueue();
  const instance = (service: string, instanceId: string, bus: Partial<CommandBusOptions> = {}) => {
    const router = new Router({ subscriber: broker.subscriber(), service, instanceId });
    router.use(
      deadLetter({ queue: deadLetters }),
      retry({ maxAttempts: 3, initialDelayMs: options.retryDelayMs ?? 1, jitter: 0 }),
    );
    const commands = new CommandBus({
      publisher: broker,
      router,
      naming,
      serializer,
      instanceId,
      timeoutMs: 3_000,
      ...bus,
    });
    return { router, commands };
  };
  return { instance, deadLetters };
}

/** Records what the handler's chain resolved with, outside retry and dead letter. */
function outcomes(): { seen: unknown[]; middleware: Middleware } {
  const seen: unknown[] = [];
  return {
    seen,
    middleware: (next) => async (delivery) => {
      const result = await next(delivery);
      seen.push(result);
      return result;
    },
  };
}

/** A command created `ageMs` ago. */
function move(ageMs = 0, metadata: Record<string, unknown> = {}): Envelope {
  return testEnvelope(
    'Move',
    { dx: 1 },
    { metadata: { timestamp: new Date(Date.now() - ageMs).toISOString(), ...metadata } },
  );
}

describe('CommandBus: command deadlines', () => {
  it('does not handle a command whose deadline passed while the bus was stalled: acknowledged, not dead-lettered', async () => {
    const { instance, deadLetters } = system();
    const api = instance('api', 'a');
    const worker = instance('svc', 'w');
    let runs = 0;
    const { seen, middleware } = outcomes();
    worker.commands.handle('Move', () => runs++, { outerMiddleware: [middleware] });
    await api.router.run();
    const command = move();
    await api.commands.send(command, { deadlineMs: 50 });
    await wait(100); // nobody handles it in time: the handling side is not running yet
    await worker.router.run();
    for (let i = 0; i < 100 && seen.length === 0; i++) await wait(5);
    expect(runs).toBe(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(Refusal);
    const error = (seen[0] as Refusal).error as CommandExpiredError;
    expect(error).toBeInstanceOf(CommandExpiredError);
    expect(error).toMatchObject({
      commandId: command.messageId,
      commandType: 'Move',
      deadline: new Date(Date.parse(command.metadata.timestamp) + 50).toISOString(),
    });
    expect(error.message).toMatch(
      /^Move \S+ expired unhandled: its deadline \S+ had passed \d+ ms/,
    );
    await wait(50); // a redelivery would come within a few ms
    expect(seen).toHaveLength(1);
    expect(await deadLetters.list()).toEqual([]);
    await Promise.all([api.router.close(), worker.router.close()]);
  });

  it('rejects a request whose command expired with CommandExpiredError (a CommandRejectedError)', async () => {
    const { instance } = system();
    const worker = instance('svc', 'w');
    let runs = 0;
    worker.commands.handle('Move', () => runs++);
    const api = instance('api', 'a');
    await Promise.all([worker.router.run(), api.router.run()]);
    // Accepted 2 s ago with 1 s to live: expired when it arrives.
    const command = move(2_000);
    const error = await api.commands
      .request(command, { deadlineMs: 1_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandExpiredError);
    expect(error).toBeInstanceOf(CommandRejectedError);
    expect(error).toMatchObject({
      commandId: command.messageId,
      commandType: 'Move',
      remoteName: 'CommandExpiredError',
      deadline: new Date(Date.parse(command.metadata.timestamp) + 1_000).toISOString(),
    });
    expect((error as Error).message).toContain('expired unhandled');
    expect(runs).toBe(0);
    await Promise.all([api.router.close(), worker.router.close()]);
  });

  it('handles a command within its deadline, which travels as metadata.deadline', async () => {
    const { instance } = system();
    const worker = instance('svc', 'w');
    const received: Envelope[] = [];
    worker.commands.handle('Move', (command) => {
      received.push(command);
      return { moved: true };
    });
    const api = instance('api', 'a');
    await Promise.all([worker.router.run(), api.router.run()]);
    const command = move();
    await expect(api.commands.request(command, { deadlineMs: 5_000 })).resolves.toEqual({
      moved: true,
    });
    expect(received[0]!.metadata.deadline).toBe(
      new Date(Date.parse(command.metadata.timestamp) + 5_000).toISOString(),
    );
    // Without a deadline a command never expires, however old.
    await expect(api.commands.request(move(86_400_000))).resolves.toEqual({ moved: true });
    expect(received[1]!.metadata.deadline).toBeUndefined();
    await Promise.all([api.router.close(), worker.router.close()]);
  });

  it('does not retry a command whose deadline passed during a failed attempt: no second run, no dead letter', async () => {
    const { instance, deadLetters } = system({ retryDelayMs: 20 });
    const worker = instance('svc', 'w');
    let runs = 0;
    worker.commands.handle('Move', async () => {
      runs++;
      await wait(300); // past the deadline
      throw new Error('the store timed out'); // transient: retry would run it again
    });
    const api = instance('api', 'a');
    await Promise.all([worker.router.run(), api.router.run()]);
    const error = await api.commands.request(move(), { deadlineMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandExpiredError);
    await wait(50);
    expect(runs).toBe(1);
    expect(await deadLetters.list()).toEqual([]);
    await Promise.all([api.router.close(), worker.router.close()]);
  });

  it('answers expired a command whose handler found its deadline passed right before its write (checkDeadline)', async () => {
    const { instance, deadLetters } = system();
    const worker = instance('svc', 'w');
    let runs = 0;
    const written: string[] = [];
    const { seen, middleware } = outcomes();
    worker.commands.handle(
      'Move',
      async (command) => {
        runs++;
        // The process froze mid-handling (a GC pause, a stalled VM) until after the deadline.
        await wait(150);
        checkDeadline(command);
        written.push(command.messageId);
      },
      { outerMiddleware: [middleware] },
    );
    const api = instance('api', 'a');
    await Promise.all([worker.router.run(), api.router.run()]);
    const command = move();
    const error = await api.commands.request(command, { deadlineMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandExpiredError);
    expect((error as Error).message).toMatch(
      /^Move \S+ expired while it was handled: its deadline \S+ had passed \d+ ms before its effects were written, so none were$/,
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(Refusal);
    await wait(50); // a retry or a redelivery would come within a few ms
    expect(runs).toBe(1);
    expect(written).toEqual([]);
    expect(await deadLetters.list()).toEqual([]);
    // Within its deadline the same check lets the write happen.
    const fresh = move();
    await api.commands.request(fresh, { deadlineMs: 5_000 });
    expect(written).toEqual([fresh.messageId]);
    // checkDeadline alone: a deadline passed, and none at all.
    expect(() =>
      checkDeadline(move(2_000, { deadline: new Date(Date.now() - 1).toISOString() })),
    ).toThrow(CommandExpiredError);
    expect(() => checkDeadline(move())).not.toThrow();
    await Promise.all([api.router.close(), worker.router.close()]);
  });

  it('allows clockSkewMs on the receiving side', async () => {
    const { instance } = system();
    const worker = instance('svc', 'w', { clockSkewMs: 5_000 });
    worker.commands.handle('Move', () => 'handled');
    const api = instance('api', 'a');
    await Promise.all([worker.router.run(), api.router.run()]);
    // Expired 1 s ago by this clock, but within the allowance.
    await expect(api.commands.request(move(2_000), { deadlineMs: 1_000 })).resolves.toBe('handled');
    await expect(api.commands.request(move(7_000), { deadlineMs: 1_000 })).rejects.toThrow(
      CommandExpiredError,
    );
    await Promise.all([api.router.close(), worker.router.close()]);
  });

  it("checks deadlines by the clock it is given (now), not this host's", async () => {
    const { instance } = system();
    // This host runs 75 s ahead of the clock the senders stamp with (their shared server's).
    const worker = instance('svc', 'w', { now: () => Date.now() - 75_000 });
    worker.commands.handle('Move', () => 'handled');
    const api = instance('api', 'a');
    await Promise.all([worker.router.run(), api.router.run()]);
    // Created 70 s ago by this host's clock: 5 s ago by the shared one, well within 60 s.
    await expect(api.commands.request(move(70_000), { deadlineMs: 60_000 })).resolves.toBe(
      'handled',
    );
    const late = await api.commands
      .request(move(140_000), { deadlineMs: 60_000 })
      .catch((e: unknown) => e);
    expect(late).toBeInstanceOf(CommandExpiredError);
    await Promise.all([api.router.close(), worker.router.close()]);
  });

  it('dead-letters at once a command whose deadline is not an ISO-8601 time', async () => {
    const { instance, deadLetters } = system();
    const worker = instance('svc', 'w');
    let runs = 0;
    worker.commands.handle('Move', () => runs++);
    const api = instance('api', 'a');
    await Promise.all([worker.router.run(), api.router.run()]);
    const error = await api.commands
      .request(move(0, { deadline: 'soon' }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ remoteName: 'InvalidCommandDeadlineError' });
    expect(runs).toBe(0);
    const letters = await deadLetters.list();
    expect(letters.map((letter) => [letter.errorName, letter.attempts])).toEqual([
      ['InvalidCommandDeadlineError', 1],
    ]);
    expect(letters[0]!.reason).toContain('metadata.deadline "soon", which is not an ISO-8601 time');
    await Promise.all([api.router.close(), worker.router.close()]);
  });
});

describe('withDeadline', () => {
  const created = '2026-11-22T10:00:00.000Z';
  const command = testEnvelope('Move', { dx: 1 }, { metadata: { timestamp: created } });

  it('sets the deadline relative to the creation of the command, keeping an earlier one', () => {
    const set = withDeadline(command, 60_000);
    expect(set.metadata.deadline).toBe('2026-11-22T10:01:00.000Z');
    expect(withDeadline(set, 120_000).metadata.deadline).toBe('2026-11-22T10:01:00.000Z');
    expect(withDeadline(set, 1_000).metadata.deadline).toBe('2026-11-22T10:00:01.000Z');
    expect(command.metadata.deadline).toBeUndefined(); // not changed in place
  });

  it('refuses a deadline that is not a positive number, and an own deadline that is not a time', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => withDeadline(command, bad)).toThrow(
        /deadlineMs of Move \S+ must be a positive number of milliseconds/,
      );
    const garbled = testEnvelope(
      'Move',
      { dx: 1 },
      { metadata: { timestamp: created, deadline: 7 as unknown as string } },
    );
    expect(() => withDeadline(garbled, 1_000)).toThrow(InvalidCommandDeadlineError);
  });
});
