import { Logger } from '@nestjs/common';
import { type CommandBus, type Envelope } from '@causeway/cqrs-core';
import { RedisCommandNotSentError } from '@causeway/cqrs-core/redis';
import { InMemoryCommandStatusStore } from '@causeway/platform';
import { type CommandApiOptions } from '../command-api.options';
import { keyedRequest } from '../commands/command-api.fixture';
import { type ApiRequest } from '../http/http.types';
import { type Accepted } from '../commands/command.schemas';
import { CommandService } from '../commands/command.service';
import { CommandRefusedError } from '../errors/command-api.errors';
import { answerJsonRpc } from '../rpc/json-rpc.protocol';
import { RPC_READS, rpcMethods } from '../rpc/rpc.methods';
import { IdempotencyGate } from './idempotency.gate';
import { InMemoryIdempotencyStore } from './in-memory.idempotency-store';

// What the commands of keyed requests are sent as, and what their status says.
describe('IdempotencyGate with CommandService', () => {
  const caller = { userId: 'ash', trainerIds: [] };
  let sent: Envelope[];
  let failures: unknown[];
  let now: number;
  let commandStatus: InMemoryCommandStatusStore;
  let service: CommandService;
  let gate: IdempotencyGate;
  /** The same, keeping keys for IDEMPOTENCY_TTL_S' default (24 h). */
  let keptADay: IdempotencyGate;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    sent = [];
    failures = [];
    now = Date.parse('2026-01-01T00:00:00Z');
    const bus = {
      send: jest.fn(async (command: Envelope) => {
        sent.push(command);
        const failure = failures.shift();
        if (failure) throw failure;
      }),
    } as unknown as CommandBus;
    commandStatus = new InMemoryCommandStatusStore();
    const options = {
      serverId: 'api-1',
      commandStatus,
      idempotency: new InMemoryIdempotencyStore(() => now),
      idempotencyTtlMs: 60_000,
      clock: { now: () => now },
    } as unknown as CommandApiOptions;
    service = new CommandService(options, bus);
    gate = new IdempotencyGate(options);
    keptADay = new IdempotencyGate({ ...options, idempotencyTtlMs: 86_400_000 });
  });

  const move = (key: string, body: Record<string, unknown>) =>
    gate.run(caller, keyedRequest(key, '/api/trainers/ash/move', body), async () => {
      const accepted = await service.move(caller, { trainerId: 'ash', ...body } as never);
      return { status: 202, body: accepted, storable: true };
    });
  const idOf = (answer: { body?: unknown }) => (answer.body as { commandId: string }).commandId;

  it('lets the retry of a request the bus refused end processed, not rejected', async () => {
    const body = { directionX: 1, directionY: 0, action: 'start' };
    failures.push(new RedisCommandNotSentError('xadd', new Error('Connection is closed')));
    await expect(move('k-refused', body)).rejects.toBeInstanceOf(CommandRefusedError);
    const retry = await move('k-refused', body);
    expect(retry.status).toBe(202);
    expect(sent.map((command) => command.messageId)).toEqual([idOf(retry), idOf(retry)]);
    expect(await commandStatus.get(idOf(retry))).toMatchObject({ status: 'accepted' });
    // trainer-service then records the outcome (the first recorded one wins).
    await commandStatus.complete({
      commandId: idOf(retry),
      type: 'MoveTrainerCommand',
      issuerId: 'ash',
      status: 'processed',
      completedAt: new Date(now).toISOString(),
      version: 1,
    });
    expect(await commandStatus.get(idOf(retry))).toMatchObject({ status: 'processed' });
  });

  it('retries a JSON-RPC move the bus refused as a new request, with a deadline of its own, as over REST', async () => {
    now = Date.now();
    const params = { directionX: 1, directionY: 0, action: 'start' };
    const body = {
      jsonrpc: '2.0',
      id: 1,
      method: 'trainer.move',
      params: { trainerId: 'ash', ...params },
    };
    const methods = rpcMethods(caller, service);
    // As RpcController runs a keyed /rpc request.
    const rpc = () =>
      keptADay.run(
        caller,
        keyedRequest('k-rpc-refused', '/rpc', body),
        async () => {
          const answer = await answerJsonRpc(body, methods, RPC_READS);
          const { storable, sentNothing } = answer;
          return { status: 200, body: answer.response, storable, sentNothing };
        },
        '/rpc',
      );
    const notSent = () => new RedisCommandNotSentError('xadd', new Error('Connection is closed'));
    const rest = () =>
      keptADay.run(
        caller,
        keyedRequest('k-rest-refused', '/api/trainers/ash/move', params),
        async () => {
          const accepted = await service.move(caller, { trainerId: 'ash', ...params } as never);
          return { status: 202, body: accepted, storable: true };
        },
      );
    failures.push(notSent());
    await expect(rest()).rejects.toBeInstanceOf(CommandRefusedError);
    failures.push(notSent());
    expect((await rpc()).body).toMatchObject({ error: { code: -32005 } });
    // The bus was down for longer than COMMAND_DEADLINE_MS (60 s): nothing was sent meanwhile.
    now += 90_000;
    const restRetry = await rest();
    const rpcRetry = await rpc();
    expect(rpcRetry.body).toMatchObject({ result: { status: 'accepted' } });
    const accepted = new Date(now).toISOString();
    const deadline = new Date(now + 60_000).toISOString();
    // Accepted now, to be handled within 60 s from now: not expired before it was ever sent.
    for (const commandId of [
      idOf(restRetry),
      (rpcRetry.body as { result: Accepted }).result.commandId,
    ])
      expect({
        commandId,
        metadata: sent.find((c) => c.messageId === commandId)?.metadata,
      }).toEqual({
        commandId,
        metadata: expect.objectContaining({ timestamp: accepted, deadline }),
      });
  });

  it('sends another request under a key that expired with command ids of its own', async () => {
    const first = await move('k-reused', { directionX: 1, directionY: 0, action: 'start' });
    now += 61_000; // past IDEMPOTENCY_TTL_S: the key is free for a new request
    const second = await move('k-reused', { directionX: 0, directionY: 0, action: 'stop' });
    expect(second).toMatchObject({ status: 202, replayed: false });
    expect(sent).toHaveLength(2);
    expect(sent[1]!.data).toMatchObject({ action: 'stop' });
    // The first id is in trainer-service's recent ids and the status store: a stop under it
    // would be taken for the start, done already.
    expect(idOf(second)).not.toBe(idOf(first));
  });

  it('sends the same request under a key that expired as a new command, not under the id trainer-service already handled', async () => {
    const start = { directionX: 1, directionY: 0, action: 'start' };
    const first = await move('k-again', start);
    const retry = await move('k-again', start); // within IDEMPOTENCY_TTL_S: the same answer
    expect(idOf(retry)).toBe(idOf(first));
    now += 61_000; // the key is forgotten: answered 202 "accepted now", so it must be sent anew
    const again = await move('k-again', start);
    expect(again).toMatchObject({ status: 202, replayed: false });
    expect(sent.map((command) => command.messageId)).toEqual([idOf(first), idOf(again)]);
    expect(idOf(again)).not.toBe(idOf(first));
    expect(await commandStatus.get(idOf(again))).toMatchObject({
      status: 'accepted',
      acceptedAt: new Date(now).toISOString(),
    });
  });

  it('replays a retry that spells the same target otherwise, and still refuses another target or body', async () => {
    const start = { directionX: 1, directionY: 0, action: 'start' };
    const at = (key: string, url: string, body: Record<string, unknown> = start) =>
      gate.run(caller, keyedRequest(key, url, body), async () => {
        const accepted = await service.move(caller, { trainerId: 'ash', ...body } as never);
        return { status: 202, body: accepted, storable: true };
      });
    const first = await at('k-spelled', '/api/trainers/ash/move?b=2&a=1&a=0');
    // Through a forward proxy (absolute form), percent-encoded, with a trailing slash, with the
    // parameters in another order: the same request, answered as the first, nothing sent again.
    for (const url of [
      'http://proxy.example:8080/api/trainers/ash/move?b=2&a=1&a=0',
      '/api/trainers/%61sh/move?a=1&b=2&a=0',
      '/api/trainers/ash/move/?a=1&a=0&b=%32',
    ]) {
      const retry = await at('k-spelled', url);
      expect({ url, status: retry.status, replayed: retry.replayed }).toEqual({
        url,
        status: 202,
        replayed: true,
      });
      expect(idOf(retry)).toBe(idOf(first));
    }
    expect(sent).toHaveLength(1);
    // Another trainer, other parameter values, a segment holding a slash, another body: 422.
    for (const [url, body] of [
      ['/api/trainers/Ash/move?b=2&a=1&a=0', start],
      ['/api/trainers/ash/move?b=2&a=0&a=1', start],
      ['/api/trainers/ash/move', start],
      ['/api/trainers/ash%2Fmove?b=2&a=1&a=0', start],
      ['/api/trainers/ash/move?b=2&a=1&a=0', { ...start, action: 'stop' }],
    ] as const)
      await expect(at('k-spelled', url, body)).rejects.toMatchObject({ reason: 'mismatch' });
    expect(sent).toHaveLength(1);
  });

  // PUT / DELETE of a group take an optional body: `{}` and none both mean "no timestamp", yet
  // under one Idempotency-Key the second was 422 idempotency-key-reused (another body).
  it('takes an empty JSON object and no body as one request; a body with a field stays another', async () => {
    const url = '/api/trainers/ash/groups/g1';
    const request = (key: string, body?: unknown): ApiRequest => ({
      ...keyedRequest(key, url, {}),
      method: 'PUT',
      commandApiBody:
        body === undefined
          ? { kind: 'empty', raw: Buffer.alloc(0) }
          : { kind: 'json', value: body, raw: Buffer.from(JSON.stringify(body)) },
    });
    const join = (key: string, body?: unknown) =>
      gate.run(caller, request(key, body), async () => {
        const accepted = await service.changeGroup(
          caller,
          { trainerId: 'ash', groupId: 'g1', ...(body as object) },
          'join',
        );
        return { status: 202, body: accepted, storable: true };
      });
    for (const [first, then] of [
      [undefined, {}],
      [{}, undefined],
    ]) {
      const key = `k-empty-${JSON.stringify(first)}`;
      const answer = await join(key, first);
      const retry = await join(key, then);
      expect({ first, then, replayed: retry.replayed, id: idOf(retry) }).toEqual({
        first,
        then,
        replayed: true,
        id: idOf(answer),
      });
    }
    expect(sent).toHaveLength(2);
    await expect(join('k-empty-undefined', { timestamp: 5 })).rejects.toMatchObject({
      reason: 'mismatch',
    });
    expect(sent).toHaveLength(2);
  });
});
