import { randomUUID } from 'node:crypto';
import { useOrderProcessor } from './order-processor.harness';

describe('order-processor: the progress reads are rate limited per caller (RATE_LIMIT_POINTS)', () => {
  const app = useOrderProcessor('progresslimit', () => ({
    RATE_LIMIT_POINTS: '3',
    RATE_LIMIT_WINDOW_S: '60',
  }));
  const { read, tokens } = app;

  it('answers 429 with Retry-After once a user spent their points, across all four reads; another user keeps theirs', async () => {
    const ash = (await tokens.issue('ash')).token;
    expect((await read(`status/${randomUUID()}`, ash)).status).toBe(404);
    expect((await read(`history/${randomUUID()}`, ash)).status).toBe(404);
    expect((await read('user/ash', ash)).status).toBe(200);

    const limited = await read('monitor', ash);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toContain('application/problem+json');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await limited.json()).toMatchObject({
      type: 'https://causeway.dev/problems/rate-limited',
      status: 429,
    });

    const misty = (await tokens.issue('misty')).token;
    expect((await read('user/misty', misty)).status).toBe(200);
  });

  it('limits callers without a valid token by address: 429 before 401', async () => {
    // This test's client address has its own points (ash's are counted by user id).
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await read('monitor', 'not-a-token')).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it('documents the 429 of every progress read in its OpenAPI document (/docs-json), with Retry-After, as it answers it', async () => {
    // The harness reads under /api/v2/progress/; the URL parser resolves the dot segments.
    const docs = (await (await read('../../../docs-json')).json()) as {
      paths: Record<
        string,
        { get: { responses: Record<string, { headers?: Record<string, unknown> }> } }
      >;
    };
    const routes = Object.entries(docs.paths);
    expect(routes.map(([route]) => route).sort()).toEqual([
      '/api/v2/progress/history/{taskId}',
      '/api/v2/progress/monitor',
      '/api/v2/progress/status/{taskId}',
      '/api/v2/progress/user/{userId}',
    ]);
    const undocumented = routes
      .filter(([, route]) => route.get.responses['429']?.headers?.['Retry-After'] === undefined)
      .map(([route]) => route);
    expect(undocumented).toEqual([]);
  });
});
