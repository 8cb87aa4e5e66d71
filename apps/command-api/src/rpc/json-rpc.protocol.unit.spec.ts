import { ServerClockUnsynchronisedError } from '@causeway/platform';
import {
  CommandBacklogError,
  CommandRefusedError,
  CommandUnconfirmedError,
  ForbiddenTrainerError,
  NotFoundError,
  ValidationError,
} from '../errors/command-api.errors';
import {
  answerJsonRpc,
  MAX_BATCH,
  parseErrorResponse,
  type JsonRpcMethod,
} from './json-rpc.protocol';

describe('JSON-RPC 2.0 over one HTTP body', () => {
  const seen: unknown[] = [];
  const methods: Record<string, JsonRpcMethod> = {
    echo: async (params) => {
      seen.push(params);
      return { echoed: params };
    },
    invalid: async () => {
      throw new ValidationError([{ field: 'directionX', message: 'is required' }]);
    },
    forbidden: async () => {
      throw new ForbiddenTrainerError('ash', 'misty');
    },
    missing: async () => {
      throw new NotFoundError('no command x');
    },
    refused: async () => {
      throw new CommandRefusedError('MoveTrainerCommand');
    },
    broken: async () => {
      throw new Error('secret internals');
    },
    unconfirmed: async () => {
      throw new CommandUnconfirmedError(
        'MoveTrainerCommand',
        '5f0c3bde-9a3e-4c1e-8f55-1f1f0d6a7a10',
      );
    },
    overloaded: async () => {
      throw new CommandBacklogError(11, 10, 5);
    },
    unclocked: async () => {
      throw new ServerClockUnsynchronisedError();
    },
  };
  beforeEach(() => (seen.length = 0));

  it('answers a single request with its result and id', async () => {
    const answer = await answerJsonRpc(
      { jsonrpc: '2.0', id: 7, method: 'echo', params: { a: 1 } },
      methods,
    );
    expect(answer.response).toEqual({ jsonrpc: '2.0', id: 7, result: { echoed: { a: 1 } } });
    expect(answer.calls).toEqual([{ method: 'echo', outcome: 'ok' }]);
    expect(answer.storable).toBe(true);
  });

  it('answers a batch in order, leaving out notifications, and runs calls one after the other', async () => {
    const answer = await answerJsonRpc(
      [
        { jsonrpc: '2.0', id: 'a', method: 'echo', params: { n: 1 } },
        { jsonrpc: '2.0', method: 'echo', params: { n: 2 } },
        { jsonrpc: '2.0', id: 'c', method: 'nope' },
        { jsonrpc: '2.0', id: 'd', method: 'echo', params: { n: 3 } },
      ],
      methods,
    );
    expect(seen).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(answer.response).toEqual([
      { jsonrpc: '2.0', id: 'a', result: { echoed: { n: 1 } } },
      {
        jsonrpc: '2.0',
        id: 'c',
        error: expect.objectContaining({ code: -32601, message: 'Method not found: nope' }),
      },
      { jsonrpc: '2.0', id: 'd', result: { echoed: { n: 3 } } },
    ]);
  });

  it('gives nothing to answer for notifications only, even failing ones', async () => {
    const answer = await answerJsonRpc(
      [
        { jsonrpc: '2.0', method: 'echo', params: {} },
        { jsonrpc: '2.0', method: 'nope' },
        { jsonrpc: '2.0', method: 'invalid' },
      ],
      methods,
    );
    expect(answer.response).toBeUndefined();
    expect(answer.calls.map((call) => call.outcome)).toEqual([
      'ok',
      'method-not-found',
      'invalid-params',
    ]);
    expect(
      (await answerJsonRpc({ jsonrpc: '2.0', method: 'echo' }, methods)).response,
    ).toBeUndefined();
  });

  it.each([
    ['an empty batch', [], null],
    ['a number', 42, null],
    ['null', null, null],
    ['a request without jsonrpc', { id: 1, method: 'echo' }, 1],
    ['jsonrpc 1.0', { jsonrpc: '1.0', id: 1, method: 'echo' }, 1],
    ['a method that is not a string', { jsonrpc: '2.0', id: 2, method: 5 }, 2],
    ['params that are a string', { jsonrpc: '2.0', id: 3, method: 'echo', params: 'x' }, 3],
    ['an id that is an object', { jsonrpc: '2.0', id: {}, method: 'echo' }, null],
    // Malformed and without an id: not a notification (only a valid Request is), so answered.
    ["the spec's own example", { jsonrpc: '2.0', method: 1, params: 'bar' }, null],
    ['a bare object without jsonrpc or id', { method: 'echo', params: { n: 1 } }, null],
    [
      'params that are a string, without an id',
      { jsonrpc: '2.0', method: 'echo', params: 'x' },
      null,
    ],
  ])('answers %s with -32600 invalid request', async (_, body, id) => {
    const answer = await answerJsonRpc(body, methods);
    expect(answer.response).toEqual({
      jsonrpc: '2.0',
      id,
      error: expect.objectContaining({ code: -32600 }),
    });
    expect(seen).toEqual([]);
  });

  it('refuses a batch of more than MAX_BATCH calls whole, running none of them', async () => {
    const call = { jsonrpc: '2.0', id: 1, method: 'echo', params: {} };
    const answer = await answerJsonRpc(Array(MAX_BATCH + 1).fill(call), methods);
    expect(answer.response).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: expect.objectContaining({
        code: -32600,
        message: `Invalid Request: a batch holds at most ${MAX_BATCH} calls, this one ${MAX_BATCH + 1}`,
      }),
    });
    expect(seen).toEqual([]);
    const full = await answerJsonRpc(Array(MAX_BATCH).fill(call), methods);
    expect(full.response).toHaveLength(MAX_BATCH);
  });

  it('answers each invalid member of a batch with its own -32600', async () => {
    const answer = await answerJsonRpc([1, { jsonrpc: '2.0', id: 1, method: 'echo' }], methods);
    expect(answer.response).toEqual([
      { jsonrpc: '2.0', id: null, error: expect.objectContaining({ code: -32600 }) },
      { jsonrpc: '2.0', id: 1, result: { echoed: {} } },
    ]);
  });

  it('maps errors of a call to JSON-RPC errors, naming fields and trainers, hiding internals', async () => {
    const call = async (method: string) =>
      (await answerJsonRpc({ jsonrpc: '2.0', id: 1, method }, methods)).response;
    expect(await call('invalid')).toMatchObject({
      error: {
        code: -32602,
        data: { errors: [{ field: 'directionX', message: 'is required' }] },
      },
    });
    expect(await call('forbidden')).toMatchObject({
      error: {
        code: -32003,
        message: 'user "ash" may not move trainer "misty"',
        data: { trainerId: 'misty' },
      },
    });
    expect(await call('missing')).toMatchObject({ error: { code: -32004 } });
    expect(await call('refused')).toMatchObject({ error: { code: -32005 } });
    const broken = (await call('broken')) as { error: { code: number; message: string } };
    expect(broken.error).toEqual({ code: -32603, message: 'Internal error' });
  });

  it('refuses an integer id it cannot echo exactly, running nothing; echoes safe ones', async () => {
    const rounded = JSON.parse(
      '{"jsonrpc":"2.0","method":"echo","params":{},"id":12345678901234567890}',
    );
    const answer = await answerJsonRpc(rounded, methods);
    expect(answer.response).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32600,
        message: expect.stringContaining('send it as a string'),
      },
    });
    expect(seen).toEqual([]);
    const safe = await answerJsonRpc(
      { jsonrpc: '2.0', method: 'echo', params: {}, id: Number.MAX_SAFE_INTEGER },
      methods,
    );
    expect(safe.response).toMatchObject({ id: Number.MAX_SAFE_INTEGER, result: { echoed: {} } });
  });

  // JSON-RPC 2.0 §4: numbers in an id SHOULD NOT contain fractional parts. 1.5 was run and
  // echoed, so a client could correlate by an id the spec tells it not to send.
  it('refuses a fractional id with -32600 naming "id", running nothing, in a batch too', async () => {
    const refusal = {
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32600,
        message:
          'Invalid Request: "id" must not have a fractional part (JSON-RPC 2.0); send an integer or a string',
      },
    };
    const single = await answerJsonRpc(
      { jsonrpc: '2.0', method: 'echo', params: { a: 1 }, id: 1.5 },
      methods,
    );
    expect(single.response).toEqual(refusal);
    expect(single.calls).toEqual([{ method: 'echo', outcome: 'invalid-request' }]);
    const batch = await answerJsonRpc(
      [
        { jsonrpc: '2.0', method: 'echo', params: { a: 2 }, id: -0.25 },
        { jsonrpc: '2.0', method: 'echo', params: { a: 3 }, id: 3 },
      ],
      methods,
    );
    expect(batch.response).toEqual([
      refusal,
      { jsonrpc: '2.0', id: 3, result: { echoed: { a: 3 } } },
    ]);
    expect(seen).toEqual([{ a: 3 }]);
    // A whole number written with a fraction (1.0) is the integer 1 once parsed.
    const whole = await answerJsonRpc(
      JSON.parse('{"jsonrpc":"2.0","method":"echo","params":{},"id":1.0}'),
      methods,
    );
    expect(whole.response).toMatchObject({ id: 1, result: { echoed: {} } });
  });

  it('refuses positional params with -32602', async () => {
    const answer = await answerJsonRpc(
      { jsonrpc: '2.0', id: 1, method: 'echo', params: [1] },
      methods,
    );
    expect(answer.response).toMatchObject({ error: { code: -32602 } });
  });

  it('marks answers with transient failures as not replayable', async () => {
    const answer = await answerJsonRpc(
      [
        { jsonrpc: '2.0', id: 1, method: 'echo' },
        { jsonrpc: '2.0', id: 2, method: 'refused' },
      ],
      methods,
    );
    expect(answer.storable).toBe(false);
  });

  it('marks answers in which no call can have sent a command; a batch where one did is kept', async () => {
    const refusedOnly = await answerJsonRpc(
      [
        { jsonrpc: '2.0', id: 1, method: 'invalid' },
        { jsonrpc: '2.0', id: 2, method: 'forbidden' },
        { jsonrpc: '2.0', id: 3, method: 'nope' },
        { jsonrpc: '2.0', id: 4, method: 'echo', params: [1] },
        { jsonrpc: '2.0', id: 5, method: 'read' },
      ],
      { ...methods, read: methods.echo! },
      new Set(['read']),
    );
    expect(refusedOnly).toMatchObject({ storable: true, sentNothing: true });
    const oneSent = await answerJsonRpc(
      [
        { jsonrpc: '2.0', id: 1, method: 'invalid' },
        { jsonrpc: '2.0', method: 'echo' },
      ],
      methods,
    );
    expect(oneSent).toMatchObject({ storable: true, sentNothing: false });
    // A transient failure may come after the send (unconfirmed, internal)...
    for (const method of ['unconfirmed', 'broken'])
      expect({
        method,
        ...(await answerJsonRpc({ jsonrpc: '2.0', id: 1, method }, methods)),
      }).toMatchObject({ method, storable: false, sentNothing: false });
    // ...unless it says nothing was sent: the bus refused it, a backlog, no server clock yet.
    for (const method of ['refused', 'overloaded', 'unclocked'])
      expect({
        method,
        ...(await answerJsonRpc({ jsonrpc: '2.0', id: 1, method }, methods)),
      }).toMatchObject({ method, storable: false, sentNothing: true });
    const empty = await answerJsonRpc([], methods);
    expect(empty.sentNothing).toBe(true);
  });

  it('does not treat inherited properties as methods', async () => {
    const answer = await answerJsonRpc({ jsonrpc: '2.0', id: 1, method: 'toString' }, methods);
    expect(answer.response).toMatchObject({ error: { code: -32601 } });
  });

  it('builds the parse error answer with a null id', () => {
    expect(parseErrorResponse('Unexpected token')).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: 'Parse error: Unexpected token' },
    });
  });
});
