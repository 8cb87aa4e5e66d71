import { Logger } from '@nestjs/common';
import {
  CommandBus,
  type Envelope,
  InMemoryBroker,
  Router,
  topicNaming,
} from '@causeway/cqrs-core';
import { contractsSerializer } from '@causeway/contracts';
import { COMMAND_TOPICS, InMemoryCommandStatusStore } from '@causeway/platform';
import { type CommandApiOptions } from '../command-api.options';
import {
  CommandBacklogError,
  CommandRefusedError,
  CommandUnconfirmedError,
} from '../errors/command-api.errors';
import { type ApiRequest } from '../http/http.types';
import { IdempotencyGate } from '../idempotency/idempotency.gate';
import { InMemoryIdempotencyStore } from '../idempotency/in-memory.idempotency-store';
import { CommandService } from './command.service';

const caller = { userId: 'ash', trainerIds: [] };
const move = { trainerId: 'ash', directionX: 1, directionY: 0, action: 'start' as const };

async function setup() {
  const serializer = contractsSerializer();
  const broker = new InMemoryBroker({ serializer });
  const naming = topicNaming('clock.', { commandTopics: COMMAND_TOPICS });
  const bus = (instanceId: string) => {
    const router = new Router({ subscriber: broker.subscriber(), service: instanceId, instanceId });
    const commands = new CommandBus({ publisher: broker, router, naming, serializer, instanceId });
    return { router, commands };
  };
  const received: Envelope[] = [];
  const trainer = bus('trainer-service');
  trainer.commands.handle(['MoveTrainerCommand', 'ChangeGroupCommand'], (command) => {
    received.push(command);
  });
  const api = bus('command-api');
  await Promise.all([trainer.router.run(), api.router.run()]);
  const commandStatus = new InMemoryCommandStatusStore();
  const idempotency = new InMemoryIdempotencyStore();
  const refusals: boolean[] = [];
  const backlog = {
    admit: () => {
      if (refusals.shift()) throw new CommandBacklogError(11, 10, 5);
    },
  };
  // Two command-api instances sharing the stores; each with its own clock.
  const instance = (clock: { now(): number }) => {
    const options = {
      serverId: 'api',
      commandStatus,
      idempotency,
      backlog,
      clock,
    } as unknown as CommandApiOptions;
    return {
      service: new CommandService(options, api.commands),
      gate: new IdempotencyGate(options),
    };
  };
  const arrived = async (count: number) => {
    for (let i = 0; i < 200 && received.length < count; i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    return received;
  };
  const close = () => Promise.all([trainer.router.close(), api.router.close()]);
  return { instance, commands: api.commands, commandStatus, refusals, received, arrived, close };
}

// command-api on the in-memory bus, with the clock it is given: Redis' (a ServerClock), which
// may differ from this host's, and from another instance's that has no reading yet.
describe('CommandService and IdempotencyGate: one clock for what they stamp and compare', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  it('stamps a command the bus refused as completed by the clock it was accepted by', async () => {
    const { instance, commands, commandStatus, close } = await setup();
    // Redis' clock (the ServerClock) runs 30 s ahead of this host.
    const { service } = instance({ now: () => Date.now() + 30_000 });
    const notSent = Object.assign(new Error('not sent'), { name: 'RedisCommandNotSentError' });
    let id = '';
    jest.spyOn(commands, 'send').mockImplementationOnce(async (command) => {
      id = command.messageId;
      throw notSent;
    });
    await expect(service.move(caller, move)).rejects.toBeInstanceOf(CommandRefusedError);
    const status = await commandStatus.get(id);
    expect(status).toMatchObject({ status: 'rejected' });
    expect(Date.parse(status!.completedAt!)).toBeGreaterThanOrEqual(Date.parse(status!.acceptedAt));
    await close();
  });

  it("keeps a key's start when a retry on an instance whose clock reads earlier is refused as overloaded", async () => {
    const { instance, commands, refusals, received, arrived, close } = await setup();
    // Instance A has no Redis reading yet (its host runs 30 s ahead); B has one.
    const a = instance({ now: () => Date.now() + 30_000 });
    const b = instance({ now: () => Date.now() });
    jest.spyOn(commands, 'send').mockImplementationOnce(async (...args) => {
      await CommandBus.prototype.send.apply(commands, args);
      throw new Error('Command timed out');
    });
    const keyed = (body: typeof move) =>
      ({
        method: 'POST',
        originalUrl: '/api/trainers/ash/move',
        headers: { 'idempotency-key': 'k-hunt' },
        socket: {},
        commandApiBody: { kind: 'json', value: body, raw: Buffer.from(JSON.stringify(body)) },
      }) as unknown as ApiRequest;
    const attempt = (on: typeof a, body: typeof move) =>
      on.gate.run(caller, keyed(body), async () => ({
        status: 202,
        body: await on.service.move(caller, body),
        storable: true,
      }));
    // 1 on A: sent, unconfirmed: the key keeps its start (by A's clock) and binding.
    await expect(attempt(a, move)).rejects.toBeInstanceOf(CommandUnconfirmedError);
    await arrived(1);
    // 2 on B: refused as overloaded. The key's start (A's clock) is after B's now: still a
    // retry, and the key must keep its start and binding.
    refusals.push(true);
    await expect(attempt(b, move)).rejects.toBeInstanceOf(CommandBacklogError);
    // 3: another request under the key must still be a mismatch.
    const other = { ...move, directionX: -1 };
    const third = await attempt(b, other).then(
      (answer) => answer,
      (error: unknown) => error,
    );
    await arrived(2);
    expect(third).toMatchObject({ name: 'IdempotencyConflictError', reason: 'mismatch' });
    expect(received).toHaveLength(1);
    await close();
  });
});
