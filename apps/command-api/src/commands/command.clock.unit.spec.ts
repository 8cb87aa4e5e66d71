import { Logger } from '@nestjs/common';
import { CommandBus } from '@causeway/cqrs-core';
import { ServerClock } from '@causeway/platform';
import {
  CommandBacklogError,
  CommandRefusedError,
  CommandUnconfirmedError,
} from '../errors/command-api.errors';
import { toJsonRpcError, toProblem } from '../errors/error.mapping';
import { commandApiOnInMemoryBus, keyedRequest, scriptedBacklog } from './command-api.fixture';

const caller = { userId: 'ash', trainerIds: [] };
const move = { trainerId: 'ash', directionX: 1, directionY: 0, action: 'start' as const };

async function setup() {
  const bus = await commandApiOnInMemoryBus('clock.');
  const { backlog, refusals } = scriptedBacklog();
  // command-api instances sharing the stores, each with its own clock.
  const instance = (clock: { now(): number }) => bus.instance({ backlog, clock });
  const { commands, commandStatus, received, arrived, close } = bus;
  return { instance, commands, commandStatus, refusals, received, arrived, close };
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
    const keyed = (body: typeof move) => keyedRequest('k-clock', '/api/trainers/ash/move', body);
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

// Session 30: an instance whose Redis TIME reading failed stamped moves by its own host's clock
// (60 s ahead: events in the future, good starts rejected superseded).
describe('CommandService before the server clock has been read', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  it("refuses commands with 503 and Retry-After naming the clock, sends nothing, and stamps by Redis' once read", async () => {
    const { instance, received, close } = await setup();
    let redisUp = false;
    const clock = new ServerClock({
      read: async () => {
        if (!redisUp) throw new Error('Connection is closed.');
        return Date.now() - 30_000; // Redis' clock, 30 s behind this host's
      },
    });
    const { service, gate } = instance(clock);
    const error = await service.move(caller, move).catch((e: unknown) => e);
    const { status, headers, problem } = toProblem(error);
    expect({ status, headers }).toEqual({ status: 503, headers: { 'Retry-After': '1' } });
    expect(problem).toMatchObject({
      type: 'https://causeway.dev/problems/clock-unsynchronised',
      detail: expect.stringMatching(/Redis TIME/),
    });
    expect(toJsonRpcError(error)).toMatchObject({ code: -32005 });
    // A keyed request too: its key's start is not taken by this host's clock either.
    const keyed = await gate
      .run(caller, keyedRequest('k-unsynced', '/api/trainers/ash/move', move), async () => ({
        status: 202,
        body: await service.move(caller, move),
        storable: true,
      }))
      .catch((e: unknown) => e);
    expect(toProblem(keyed).status).toBe(503);
    expect(received).toHaveLength(0);
    redisUp = true;
    expect(await clock.whenSynchronised(5_000)).toBe(true);
    const accepted = await service.move(caller, move);
    expect(Math.abs(Date.parse(accepted.timestamp) - (Date.now() - 30_000))).toBeLessThan(1_000);
    await close();
  });
});
