import { Logger } from '@nestjs/common';
import { CommandBus } from '@causeway/cqrs-core';
import { CommandBacklogError, CommandUnconfirmedError } from '../errors/command-api.errors';
import { answerJsonRpc } from '../rpc/json-rpc.protocol';
import { rpcMethods } from '../rpc/rpc.methods';
import { commandApiOnInMemoryBus, keyedRequest, scriptedBacklog } from './command-api.fixture';

// Backlog refusals (503 overloaded, JSON-RPC -32005) inside keyed requests and batches, on the
// in-memory command bus. The backlog's answers are scripted: which call it refuses is the point.

const caller = { userId: 'ash', trainerIds: [] };
const move = { trainerId: 'ash', directionX: 1, directionY: 0, action: 'start' as const };

/** command-api on the in-memory bus, with a backlog whose next answers the test sets. */
async function setup() {
  const bus = await commandApiOnInMemoryBus('keyed.');
  const { backlog, refusals } = scriptedBacklog();
  const { service, gate } = bus.instance({ backlog });
  const { commands, arrived, received, close } = bus;
  return { service, gate, commands, refusals, arrived, received, close };
}

describe('CommandService: backlog refusals with an Idempotency-Key', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));

  it('gives each call of a keyed batch its id whether or not an earlier call was refused as overloaded', async () => {
    const { service, gate, refusals, arrived, close } = await setup();
    const start = { ...move, action: 'start' as const };
    const stop = { ...move, action: 'stop' as const };
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'trainer.move', params: start },
      { jsonrpc: '2.0', id: 2, method: 'trainer.move', params: stop },
    ];
    const request = keyedRequest('k-batch', '/rpc', batch);
    const attempt = () =>
      gate.run(caller, request, async () => {
        const rpc = await answerJsonRpc(batch, rpcMethods(caller, service));
        return { status: 200, body: rpc.response, storable: rpc.storable };
      });
    // First attempt: the start is refused (overloaded), the stop admitted and sent.
    refusals.push(true, false);
    const first = (await attempt()).body as { result?: { commandId: string }; error?: unknown }[];
    expect(first[0]!.error).toMatchObject({ code: -32005 });
    const stopId = first[1]!.result!.commandId;
    // The client retries the batch with the same key (it was not stored: -32005 is transient).
    const second = (await attempt()).body as { result?: { commandId: string } }[];
    const startId = second[0]!.result!.commandId;
    const sent = await arrived(3);
    // The retry sends the stop again under its id (trainer-service knows it applied it) and the
    // start under its own. Had the refused start taken no id, the stop would have got the
    // start's, and the retried start the stop's: taken for the stop, never applied.
    expect(startId).not.toBe(stopId);
    expect(
      sent.map((command) => [command.messageId, (command.data as typeof move).action]),
    ).toEqual([
      [stopId, 'stop'],
      [startId, 'start'],
      [stopId, 'stop'],
    ]);
    await close();
  });

  it('keeps a key bound to its request when a retry after an unconfirmed send is refused as overloaded', async () => {
    const { service, gate, commands, refusals, received, arrived, close } = await setup();
    jest.spyOn(commands, 'send').mockImplementationOnce(async (...args) => {
      await CommandBus.prototype.send.apply(commands, args);
      throw new Error('Command timed out');
    });
    const attempt = (body: typeof move) =>
      gate.run(caller, keyedRequest('k-3', '/api/trainers/ash/move', body), async () => ({
        status: 202,
        body: await service.move(caller, body),
        storable: true,
      }));
    // 1: sent, unconfirmed (503 command-unconfirmed): the key keeps its start and binding.
    await expect(attempt(move)).rejects.toBeInstanceOf(CommandUnconfirmedError);
    await arrived(1);
    // 2: the retry meets the backlog (503 overloaded).
    refusals.push(true);
    await expect(attempt(move)).rejects.toBeInstanceOf(CommandBacklogError);
    // 3: another request under the key is still refused as `mismatch`: it would otherwise run
    // under the first command's id, and trainer-service drop it as a duplicate.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const other = { ...move, directionX: -1 };
    const third = await attempt(other).then(
      (answer) => answer,
      (error: unknown) => error,
    );
    await arrived(2);
    expect(received.map((c) => [c.messageId, c.data])).toHaveLength(1);
    expect(third).toMatchObject({ name: 'IdempotencyConflictError', reason: 'mismatch' });
    await close();
  });

  it('counts a JSON-RPC call refused as overloaded as `overloaded`, as over REST (the alert)', async () => {
    const rpc = await answerJsonRpc(
      { jsonrpc: '2.0', id: 1, method: 'trainer.move', params: {} },
      {
        'trainer.move': async () => {
          throw new CommandBacklogError(11, 10, 5);
        },
      },
    );
    expect(rpc.calls).toEqual([{ method: 'trainer.move', outcome: 'overloaded' }]);
  });
});
