import { Logger } from '@nestjs/common';
import { CommandBus } from '@causeway/cqrs-core';
import { CommandUnconfirmedError, ValidationError } from '../errors/command-api.errors';
import { commandApiOnInMemoryBus, keyedRequest } from './command-api.fixture';

// command-api on the in-memory command bus: what a trainer-service would receive.

const caller = { userId: 'ash', trainerIds: [] };
const move = { trainerId: 'ash', directionX: 1, directionY: 0, action: 'start' as const };

async function setup(commandDeadlineMs?: number, clock?: { now(): number }) {
  const bus = await commandApiOnInMemoryBus('deadline.');
  const { service, gate } = bus.instance({
    ...(commandDeadlineMs !== undefined && { commandDeadlineMs }),
    ...(clock && { clock }),
  });
  const { commands, commandStatus: statuses, arrived, close } = bus;
  return { service, gate, commands, statuses, arrived, close };
}

describe('CommandService: command deadlines', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));

  it('sends every move with a deadline COMMAND_DEADLINE_MS (default 60 s) after it was accepted, named in its status', async () => {
    const { service, statuses, arrived, close } = await setup();
    const accepted = await service.move(caller, move);
    const [command] = await arrived(1);
    expect(command!.messageId).toBe(accepted.commandId);
    expect(command!.metadata.timestamp).toBe(accepted.timestamp);
    expect(Date.parse(command!.metadata.deadline!) - Date.parse(accepted.timestamp)).toBe(60_000);
    // A client polling the status can tell when an `accepted` move will never be applied.
    expect(await statuses.get(accepted.commandId)).toMatchObject({
      status: 'accepted',
      acceptedAt: accepted.timestamp,
      deadline: command!.metadata.deadline,
    });
    await close();
  });

  it('stamps commands by the clock it is given (every instance the same: Redis), not this host', async () => {
    // The shared clock runs 30 s behind this host: the moves' times, from which trainer-service
    // computes how far a trainer walked, must come from it whichever instance accepts them.
    const shared = { now: () => Date.now() - 30_000 };
    const { service, gate, statuses, arrived, close } = await setup(undefined, shared);
    const before = shared.now();
    const accepted = await service.move(caller, move);
    // A request with an Idempotency-Key: its commands take the key's first attempt's time.
    const request = keyedRequest('k-clock', '/api/trainers/ash/move', move);
    await gate.run(caller, request, async () => ({
      status: 202,
      body: await service.move(caller, move),
      storable: true,
    }));
    const after = shared.now();
    const [command, keyed] = await arrived(2);
    for (const stamp of [
      Date.parse(accepted.timestamp),
      Date.parse(command!.metadata.timestamp),
      (command!.data as { timestamp: number }).timestamp,
      Date.parse(keyed!.metadata.timestamp),
      (keyed!.data as { timestamp: number }).timestamp,
    ]) {
      expect(stamp).toBeGreaterThanOrEqual(before);
      expect(stamp).toBeLessThanOrEqual(after);
    }
    expect(Date.parse(command!.metadata.deadline!) - Date.parse(accepted.timestamp)).toBe(60_000);
    expect(await statuses.get(accepted.commandId)).toMatchObject({
      acceptedAt: accepted.timestamp,
    });
    await close();
  });

  it('uses the configured deadline, none with 0, and none for group changes', async () => {
    const short = await setup(5_000);
    const accepted = await short.service.move(caller, move);
    const join = await short.service.changeGroup(
      caller,
      { trainerId: 'ash', groupId: 'party' },
      'join',
    );
    const [moved, joined] = await short.arrived(2);
    expect(Date.parse(moved!.metadata.deadline!) - Date.parse(accepted.timestamp)).toBe(5_000);
    expect(joined!.type).toBe('ChangeGroupCommand');
    expect(joined!.metadata.deadline).toBeUndefined();
    expect(await short.statuses.get(join.commandId)).not.toHaveProperty('deadline');
    await short.close();

    const off = await setup(0);
    await off.service.move(caller, move);
    const [undated] = await off.arrived(1);
    expect(undated!.metadata.deadline).toBeUndefined();
    await off.close();
  });

  it('sends a retry with the same Idempotency-Key with the time and deadline of the first attempt', async () => {
    const { service, gate, commands, arrived, close } = await setup();
    // The first copy is written to the bus, but its confirmation is lost: a 503 unconfirmed.
    const send = commands.send.bind(commands);
    jest
      .spyOn(commands, 'send')
      .mockImplementationOnce(async (...args: Parameters<CommandBus['send']>) => {
        await send(...args);
        throw new Error('Command timed out');
      });
    const request = keyedRequest('k-1', '/api/trainers/ash/move', move);
    const attempt = () =>
      gate.run(caller, request, async () => ({
        status: 202,
        body: await service.move(caller, move),
        storable: true,
      }));
    await expect(attempt()).rejects.toBeInstanceOf(CommandUnconfirmedError);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const retried = await attempt();
    const [first, retry] = await arrived(2);
    expect(retry!.messageId).toBe(first!.messageId);
    expect(retry!.metadata.timestamp).toBe(first!.metadata.timestamp);
    expect(retry!.metadata.deadline).toBe(first!.metadata.deadline);
    expect(retry!.data).toEqual(first!.data);
    expect(retried.body).toMatchObject({
      commandId: first!.messageId,
      timestamp: first!.metadata.timestamp,
    });
    await close();
  });

  it('refuses the key for another request once a command may have been sent under it', async () => {
    const { service, gate, commands, arrived, close } = await setup();
    jest.spyOn(commands, 'send').mockImplementationOnce(async (...args) => {
      await CommandBus.prototype.send.apply(commands, args);
      throw new Error('Command timed out');
    });
    const request = (body: typeof move) => keyedRequest('k-3', '/api/trainers/ash/move', body);
    const attempt = (body: typeof move) =>
      gate.run(caller, request(body), async () => ({
        status: 202,
        body: await service.move(caller, body),
        storable: true,
      }));
    await expect(attempt(move)).rejects.toBeInstanceOf(CommandUnconfirmedError);
    // Another move under the key would get the first one's command id, which trainer-service
    // takes for a command it already applied: the move would be answered and never made.
    const other = { ...move, directionX: -1 };
    await expect(attempt(other)).rejects.toMatchObject({
      name: 'IdempotencyConflictError',
      reason: 'mismatch',
    });
    const [sent] = await arrived(1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await arrived(2)).toEqual([sent]);
    expect(sent!.data).toMatchObject({ directionX: 1 });
    await close();
  });

  it('gives a retry after a failure that sent nothing a deadline of its own', async () => {
    const { service, gate, arrived, close } = await setup();
    const request = keyedRequest('k-2', '/api/trainers/ash/move', move);
    // Refused before anything was sent (the same as a 400 or a 503 command-refused).
    const firstAt = Date.now();
    await expect(
      gate.run(caller, request, async () => {
        throw new ValidationError([{ field: 'directionX', message: 'refused for the test' }]);
      }),
    ).rejects.toBeInstanceOf(ValidationError);
    // 40 ms for the 30 asserted: a timer may fire a millisecond early as Date.now() sees it.
    await new Promise((resolve) => setTimeout(resolve, 40));
    const retried = await gate.run(caller, request, async () => ({
      status: 202,
      body: await service.move(caller, move),
      storable: true,
    }));
    const [sent] = await arrived(1);
    // Not the first attempt's time: a retry an hour later would otherwise expire at once.
    expect(Date.parse(sent!.metadata.timestamp)).toBeGreaterThanOrEqual(firstAt + 30);
    expect(Date.parse(sent!.metadata.deadline!) - Date.parse(sent!.metadata.timestamp)).toBe(
      60_000,
    );
    expect(retried.body).toMatchObject({ timestamp: sent!.metadata.timestamp });
    await close();
  });
});
