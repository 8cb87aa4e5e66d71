import { shownThrown } from '../messages/error.causes';
import { type Middleware } from '../router/handler';

/** A handler threw something that is not an Error (a string, undefined, …). */
export class NonErrorThrownError extends Error {
  constructor(readonly thrown: unknown) {
    super(`handler threw a non-error: ${shownThrown(thrown)}`);
    this.name = 'NonErrorThrownError';
  }
}

/**
 * Turns anything a handler throws — synchronously or not, Error or not — into a rejected
 * promise of an Error, so that the consumer loop never crashes and later middleware can rely
 * on `error.message` and `error.stack`. Place it outermost.
 */
export function recoverer(): Middleware {
  return (next) => async (delivery) => {
    try {
      return await next(delivery);
    } catch (error) {
      throw error instanceof Error ? error : new NonErrorThrownError(error);
    }
  };
}
