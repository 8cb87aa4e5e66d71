import { ServerClock } from '@causeway/platform';
import { type CommandApiOptions } from '../command-api.options';
import { keyedRequest } from '../commands/command-api.fixture';
import { toProblem } from '../errors/error.mapping';
import { IdempotencyGate } from '../idempotency/idempotency.gate';
import { InMemoryIdempotencyStore } from '../idempotency/in-memory.idempotency-store';
import { commandApiOpenApi } from './openapi.document';

type Operation = { responses: Record<string, { description: string }> };

describe('commandApiOpenApi', () => {
  // The endpoints refuse (422 naming the parameter) a trainer id over 128 characters, a group id
  // over 64 or with other characters, a command id that is not a UUID: a client reading the
  // document must see that, not `{type: string}`.
  it('documents the path parameters with the constraints the endpoints check', () => {
    const document = commandApiOpenApi();
    const trainerId = { type: 'string', minLength: 1, maxLength: 128 };
    const groupId = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' };
    const commandId = expect.objectContaining({ type: 'string', format: 'uuid' });
    const expected: [path: string, method: string, schemas: Record<string, unknown>][] = [
      ['/api/trainers/{trainerId}/move', 'post', { trainerId }],
      ['/api/trainers/{trainerId}/groups/{groupId}', 'put', { trainerId, groupId }],
      ['/api/trainers/{trainerId}/groups/{groupId}', 'delete', { trainerId, groupId }],
      ['/api/commands/{commandId}', 'get', { commandId }],
      ['/admin/commands/{commandId}', 'get', { commandId }],
    ];
    for (const [path, method, schemas] of expected) {
      const parameters = (
        document.paths[path] as Record<string, { parameters: { name: string; in: string }[] }>
      )[method]!.parameters.filter((parameter) => parameter.in === 'path');
      expect({ path, method, parameters }).toEqual({
        path,
        method,
        parameters: Object.entries(schemas).map(([name, schema]) =>
          expect.objectContaining({ name, required: true, schema }),
        ),
      });
    }
  });

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
