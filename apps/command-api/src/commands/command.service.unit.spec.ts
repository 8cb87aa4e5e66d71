import { Logger } from '@nestjs/common';
import { type CommandBus, type Envelope } from '@causeway/cqrs-core';
import { RedisCommandNotSentError } from '@causeway/cqrs-core/redis';
import { type CommandApiOptions } from '../command-api.options';
import { CommandRefusedError, CommandUnconfirmedError } from '../errors/command-api.errors';
import { toJsonRpcError, toProblem } from '../errors/error.mapping';
import { withIdempotencyKey } from '../idempotency/idempotent-command-ids';
import { CommandService } from './command.service';

// What a failed send answers, and what it records: "nothing was sent" only when certain.
describe('CommandService when the bus fails', () => {
  const caller = { userId: 'ash', trainerIds: [] };
  const move = { trainerId: 'ash', directionX: 1, directionY: 0, action: 'start' as const };
  let sent: Envelope[];
  let failure: unknown;
  let statuses: { accepted: jest.Mock; complete: jest.Mock };
  let service: CommandService;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    sent = [];
    failure = undefined;
    statuses = {
      accepted: jest.fn().mockResolvedValue(undefined),
      complete: jest.fn().mockResolvedValue(undefined),
    };
    const bus = {
      send: jest.fn(async (command: Envelope) => {
        sent.push(command);
        if (failure) throw failure;
      }),
    } as unknown as CommandBus;
    const options = { serverId: 'api-1', commandStatus: statuses } as unknown as CommandApiOptions;
    service = new CommandService(options, bus);
  });

  it('says "nothing was sent" and records rejected when Redis never wrote it', async () => {
    failure = new RedisCommandNotSentError('xadd', new Error('Command timed out'));
    const error = await service.move(caller, move).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandRefusedError);
    expect(toProblem(error).problem.detail).toMatch(/nothing was sent, retry later/);
    expect(statuses.complete).toHaveBeenCalledWith(
      expect.objectContaining({ commandId: sent[0]!.messageId, status: 'rejected' }),
    );
  });

  it('records no rejection for a keyed command the bus refused: its retry sends the same id', async () => {
    failure = new RedisCommandNotSentError('xadd', new Error('Connection is closed'));
    const error = await withIdempotencyKey('ash:k1', Date.now(), () =>
      service.move(caller, move),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandRefusedError);
    expect(statuses.complete).not.toHaveBeenCalled();
  });

  it('gives each call of a retried keyed batch the id it had, whatever was refused before sending', async () => {
    const batch = (trainerIds: string[]) =>
      withIdempotencyKey('ash:k1', 1_000, async () => {
        const ids: Record<string, string | undefined> = {};
        for (const trainerId of ['misty', 'ash'])
          ids[trainerId] = await service
            .move({ userId: 'ash', trainerIds }, { ...move, trainerId })
            .then(
              (accepted) => accepted.commandId,
              () => undefined,
            );
        return ids;
      });
    // First attempt: ash may not move misty (403). The retry's token may.
    const first = await batch([]);
    const retry = await batch(['misty']);
    expect(first.misty).toBeUndefined();
    expect(retry.ash).toBe(first.ash);
    // Misty's move must not take the id of ash's (trainer-service would answer it processed).
    expect(retry.misty).not.toBe(first.ash);
  });

  it('says it may have been sent, names it, and records no outcome when the reply was lost', async () => {
    failure = new Error('Command timed out'); // written, unanswered: it may have run
    const error = await service.move(caller, move).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandUnconfirmedError);
    const { status, problem, headers } = toProblem(error);
    expect({ status, headers }).toEqual({ status: 503, headers: { 'Retry-After': '1' } });
    expect(problem).toMatchObject({
      type: 'https://causeway.dev/problems/command-unconfirmed',
      commandId: sent[0]!.messageId,
    });
    expect(problem.detail).not.toMatch(/nothing was sent/);
    expect(problem.detail).toMatch(/may or may not have been sent/);
    expect(toJsonRpcError(error)).toMatchObject({
      code: -32005,
      data: { commandId: sent[0]!.messageId },
    });
    // Its status stays `accepted` (recorded with the send) until its handler records the outcome.
    expect(statuses.accepted).toHaveBeenCalledWith(
      expect.objectContaining({ commandId: sent[0]!.messageId }),
    );
    expect(statuses.complete).not.toHaveBeenCalled();
  });

  it('gives a retry with the same Idempotency-Key the same command id, another key another', async () => {
    failure = new Error('Command timed out');
    const attempt = (key: string) =>
      withIdempotencyKey(`ash:${key}`, Date.now(), async () => {
        await service.move(caller, move).catch(() => undefined);
        await service.move(caller, { ...move, action: 'stop' }).catch(() => undefined);
      });
    await attempt('k1');
    await attempt('k1');
    await attempt('k2');
    const ids = sent.map((command) => command.messageId);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ids.slice(2, 4)).toEqual(ids.slice(0, 2)); // the retry: the same commands
    expect(new Set([ids[0], ids[1], ids[4], ids[5]]).size).toBe(4);
    // Without a key, ids stay random.
    await service.move(caller, move).catch(() => undefined);
    await service.move(caller, move).catch(() => undefined);
    expect(sent[6]!.messageId).not.toBe(sent[7]!.messageId);
  });
});
