import { ValidationError } from '../errors/command-api.errors';
import { toJsonRpcError, toProblem } from '../errors/error.mapping';
import { GroupParams, MoveBody, MoveParams, StatusParams } from './command.schemas';
import { validate } from './validation';

function errorsOf(run: () => unknown): { field: string; message: string }[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return [...error.errors];
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('validation of command input', () => {
  it('accepts a valid move and leaves the timestamp to the API when absent', () => {
    expect(
      validate(
        MoveParams,
        { trainerId: 'ash', directionX: 1, directionY: 0, action: 'start' },
        'params',
      ),
    ).toEqual({ trainerId: 'ash', directionX: 1, directionY: 0, action: 'start' });
  });

  it('names every wrong field: missing, wrong type, wrong value, unknown', () => {
    expect(
      errorsOf(() =>
        validate(
          MoveParams,
          { trainerId: '', directionX: 'left', action: 'run', speed: 3 },
          'params',
        ),
      ),
    ).toEqual(
      expect.arrayContaining([
        { field: 'trainerId', message: 'must not be empty' },
        { field: 'directionX', message: expect.stringMatching(/number/) },
        { field: 'directionY', message: 'is required' },
        { field: 'action', message: 'must be "start" or "stop"' },
        { field: 'speed', message: 'is not a known field' },
      ]),
    );
  });

  it('says a missing field is required, whatever its type, with the values it may take', () => {
    // Not 'must be "start" or "stop"', which reads as if a wrong action had been sent.
    expect(errorsOf(() => validate(MoveBody, { directionX: 1 }, '(body)'))).toEqual([
      { field: 'directionY', message: 'is required' },
      { field: 'action', message: 'is required: "start" or "stop"' },
    ]);
  });

  it('names the root when the input is not an object, and says a missing body is required', () => {
    // Not zod's "Invalid input: expected object, received undefined": no body was sent at all.
    expect(errorsOf(() => validate(MoveBody, undefined, '(body)'))).toEqual([
      { field: '(body)', message: 'is required: send a JSON object' },
    ]);
    expect(errorsOf(() => validate(MoveBody, null, '(body)'))).toEqual([
      { field: '(body)', message: 'Invalid input: expected object, received null' },
    ]);
    expect(errorsOf(() => validate(MoveBody, [1], '(body)'))[0]?.field).toBe('(body)');
  });

  it('checks group ids and command ids', () => {
    expect(
      errorsOf(() => validate(GroupParams, { trainerId: 'ash', groupId: 'a b' }, 'params')),
    ).toEqual([
      { field: 'groupId', message: 'may contain only letters, digits, ".", "_" and "-"' },
    ]);
    expect(errorsOf(() => validate(StatusParams, { commandId: '42' }, 'params'))).toEqual([
      { field: 'commandId', message: 'must be a UUID' },
    ]);
  });

  it('maps to a 422 problem listing the fields and to JSON-RPC -32602 with the same data', () => {
    const error = new ValidationError([{ field: 'action', message: 'must be "start" or "stop"' }]);
    const problem = toProblem(error);
    expect(problem.status).toBe(422);
    expect(problem.problem).toMatchObject({
      status: 422,
      title: 'Unprocessable Content',
      errors: [{ field: 'action', message: 'must be "start" or "stop"' }],
    });
    expect(toJsonRpcError(error)).toEqual({
      code: -32602,
      message: 'Invalid params: action: must be "start" or "stop"',
      data: { errors: [{ field: 'action', message: 'must be "start" or "stop"' }] },
    });
  });

  it('maps unexpected errors to 500 / -32603 without their message', () => {
    const error = new Error('redis password is hunter2');
    expect(JSON.stringify(toProblem(error))).not.toContain('hunter2');
    expect(JSON.stringify(toJsonRpcError(error))).not.toContain('hunter2');
  });
});
