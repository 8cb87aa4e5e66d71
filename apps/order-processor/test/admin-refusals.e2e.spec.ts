import { useOrderProcessor } from './order-processor.harness';

/**
 * Behind a reverse proxy trusted with TRUST_PROXY, wrong admin tokens on /admin/dead-letters
 * cost the client the proxy forwarded for, as its progress reads do (docs/operations.md): the
 * dead-letters admin did not know the setting and charged the proxy's address, so one client
 * spending ADMIN_REFUSALS made every client behind the proxy 429 (a review, session 43).
 */
describe('order-processor: wrong admin tokens are counted per forwarded client (TRUST_PROXY)', () => {
  const app = useOrderProcessor('opadmin', () => ({ TRUST_PROXY: 'loopback' }));

  const stats = (client: string, i: number) =>
    app.read('../../../admin/dead-letters/stats', `guess-${i}-0123456789abcdef`, {
      headers: { 'X-Forwarded-For': client },
    });

  it('gives each client behind the trusted proxy its own 10 refusals a minute', async () => {
    const answers: number[] = [];
    for (let i = 0; i < 11; i++) answers.push((await stats('203.0.113.1', i)).status);
    expect(answers).toEqual([...Array<number>(10).fill(401), 429]);
    // Another client behind the same proxy has spent nothing.
    expect((await stats('203.0.113.2', 11)).status).toBe(401);
  });
});
