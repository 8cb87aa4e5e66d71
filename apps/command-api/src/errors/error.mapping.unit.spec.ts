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
    expect(toProblem(new IdempotencyConflictError('mismatch')).headers).toEqual({});
  });

  it('answers a key reused with another request 422 idempotency-key-reused (draft-ietf-httpapi-idempotency-key-header), not 409', () => {
    expect(toProblem(new IdempotencyConflictError('mismatch'))).toMatchObject({
      status: 422,
      outcome: 'idempotency-key-reused',
      problem: {
        type: 'https://causeway.dev/problems/idempotency-key-reused',
        status: 422,
        reason: 'mismatch',
      },
    });
  });

  it('gives the rate limit its Retry-After', () => {
    expect(toProblem(new RateLimitedError(7)).headers).toEqual({ 'Retry-After': '7' });
  });
});
