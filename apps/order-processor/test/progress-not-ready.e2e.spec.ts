import { useOrderProcessor } from './order-processor.harness';

// The app answers HTTP as soon as it listens; its event store needs MongoDB open first. A read
// before then is a 503 the client retries, not a 500 (a fresh CI's first read met one).
describe('order-processor: progress reads while the event store cannot be used', () => {
  const app = useOrderProcessor(
    'progressnotready',
    () => ({
      // Nothing listens on port 1: MongoDB stays unreachable for the whole test.
      MONGODB_URI: 'mongodb://127.0.0.1:1/causeway',
      MONGODB_TIMEOUT_MS: '1000',
    }),
    { waitFor: 'live' },
  );

  it('answers 503 not-ready with Retry-After, naming the store, to status, history and user reads', async () => {
    const ash = (await app.tokens.issue('ash')).token;
    for (const route of ['status/t-1', 'history/t-1', 'user/ash']) {
      const response = await app.read(route, ash);
      expect({ route, status: response.status }).toEqual({ route, status: 503 });
      expect(response.headers.get('retry-after')).toBe('1');
      expect(await response.json()).toMatchObject({
        type: 'https://causeway.dev/problems/not-ready',
        detail: expect.stringContaining('progress store'),
      });
    }
  }, 60_000);
});
