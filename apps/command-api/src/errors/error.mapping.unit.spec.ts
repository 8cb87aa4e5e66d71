import { IdempotencyConflictError, RateLimitedError } from './command-api.errors';
import { toProblem } from './error.mapping';

describe('toProblem', () => {
  it('tells a client whose keyed request is still in flight when to come back, not one that reused a key', () => {
    const inFlight = toProblem(new IdempotencyConflictError('in-flight'));
    expect(inFlight).toMatchObject({
      status: 409,
      headers: { 'Retry-After': '1' },
      problem: { type: 'https://causeway.dev/problems/idempotency-conflict', reason: 'in-flight' },
    });
    const mismatch = toProblem(new IdempotencyConflictError('mismatch'));
    expect(mismatch.status).toBe(409);
    expect(mismatch.headers).toEqual({});
  });

  it('gives the rate limit its Retry-After', () => {
    expect(toProblem(new RateLimitedError(7)).headers).toEqual({ 'Retry-After': '7' });
  });
});
