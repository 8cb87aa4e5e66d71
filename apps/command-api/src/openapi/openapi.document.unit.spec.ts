import { ServerClock } from '@causeway/platform';
import { type CommandApiOptions } from '../command-api.options';
import { keyedRequest } from '../commands/command-api.fixture';
import { toProblem } from '../errors/error.mapping';
import { IdempotencyGate } from '../idempotency/idempotency.gate';
import { InMemoryIdempotencyStore } from '../idempotency/in-memory.idempotency-store';
import { commandApiOpenApi } from './openapi.document';

type Operation = { responses: Record<string, { description: string }> };

describe('commandApiOpenApi', () => {
  // Just after its start, before the clock's first reading (which never comes here): a keyed
  // request cannot be stamped with its key's start time. On /rpc that is the HTTP request's
  // answer, not a JSON-RPC error of a call.
  it('documents the 503 a keyed JSON-RPC request gets before the server clock is read', async () => {
    const clock = new ServerClock({ read: () => new Promise<number>(() => undefined) });
    const options = {
      serverId: 'api-1',
      idempotency: new InMemoryIdempotencyStore(),
      clock,
    } as unknown as CommandApiOptions;
    const gate = new IdempotencyGate(options);
    const body = { jsonrpc: '2.0', id: 1, method: 'command.status', params: {} };
    const run = jest.fn(async () => ({ status: 200, body: {}, storable: true }));
    const refused = await gate
      .run({ userId: 'ash', trainerIds: [] }, keyedRequest('k-1', '/rpc', body), run, '/rpc')
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(run).not.toHaveBeenCalled();
    const problem = toProblem(refused);
    expect(problem).toMatchObject({ status: 503, outcome: 'clock-unsynchronised' });
    const document = commandApiOpenApi();
    for (const path of ['/rpc', '/trainer.Move']) {
      const { responses } = (document.paths[path] as { post: Operation }).post;
      expect({ path, described: responses['503']?.description }).toEqual({
        path,
        described: expect.stringContaining('`clock-unsynchronised`'),
      });
    }
    expect(document.info.description).toContain('503 `clock-unsynchronised`');
  });
});
