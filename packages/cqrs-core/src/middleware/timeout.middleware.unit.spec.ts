import { type HandlerInfo } from '../router/handler';
import { testDelivery, testEnvelope } from '../testing/envelope.fixture';
import { HandlerTimeoutError, timeout } from './timeout.middleware';
import { recoverer, NonErrorThrownError } from './recoverer.middleware';

const info: HandlerInfo = { name: 'slow', topics: ['t'], group: 'g' };

describe('timeout middleware', () => {
  it('fails a handler that runs too long, and lets a fast one finish', async () => {
    const slow = timeout(30)(() => new Promise((resolve) => setTimeout(resolve, 200)), info);
    await expect(slow(testDelivery(testEnvelope('T', {})))).rejects.toEqual(
      new HandlerTimeoutError('slow', 30),
    );
    const fast = timeout(100)(async () => 'done', info);
    await expect(fast(testDelivery(testEnvelope('T', {})))).resolves.toBe('done');
  });
});

describe('recoverer middleware', () => {
  it('turns synchronous throws and non-errors into rejected Errors', async () => {
    const sync = recoverer()(() => {
      throw new Error('sync');
    }, info);
    await expect(sync(testDelivery(testEnvelope('T', {})))).rejects.toThrow('sync');
    const nonError = recoverer()(async () => Promise.reject('just a string'), info);
    await expect(nonError(testDelivery(testEnvelope('T', {})))).rejects.toBeInstanceOf(
      NonErrorThrownError,
    );
  });
});
