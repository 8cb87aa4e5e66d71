import { randomUUID } from 'node:crypto';
import { acceptedProgressStatus } from '@causeway/contracts';
import { RedisProgressStatuses } from '@causeway/platform';
import { serverAddress } from '@causeway/testkit';
import Redis from 'ioredis';
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

  it('charges a page of /user a point per 20 tasks it lists (a page of 100: 5 points), after it answered', async () => {
    // Each task listed is a stream read and a fold: a page of 100 for one point bought 100
    // stream reads for the price of one /status.
    const redis = new Redis(serverAddress('redis'));
    try {
      const statuses = new RedisProgressStatuses({
        client: redis,
        keyPrefix: `${app.ns.id}.:`,
        ttlMs: 86_400_000,
      });
      const started = Date.now() - 60_000;
      for (let i = 0; i < 41; i++)
        await statuses.apply(
          acceptedProgressStatus({
            taskId: randomUUID(),
            userId: 'brock',
            placedAt: new Date(started + i * 1_000).toISOString(),
          }),
        );
      const brock = (await tokens.issue('brock')).token;
      const page = await read('user/brock?limit=100', brock);
      expect(page.status).toBe(200);
      expect(((await page.json()) as { tasks: unknown[] }).tasks).toHaveLength(41);
      // 41 tasks: 3 points, all of brock's 3 in the window.
      expect((await read(`status/${randomUUID()}`, brock)).status).toBe(429);

      // A page that lists few costs one point, whatever `limit` it asked for.
      const misty = (await tokens.issue('misty-2')).token;
      expect((await read('user/misty-2?limit=100', misty)).status).toBe(200);
      expect((await read(`status/${randomUUID()}`, misty)).status).toBe(404);
    } finally {
      redis.disconnect();
    }
  });

  it('limits callers without a valid token by address: 429 before 401', async () => {
    // This test's client address has its own points (ash's are counted by user id).
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await read('monitor', 'not-a-token')).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  // Charged first, a page retrying a mistyped task URL used up its user's rate: their reads got
  // 429 for the rest of the window (session 48; the gateway's progress streams likewise).
  it('charges nothing for a status or history of an id no task can have: 400 each time, whatever the credential', async () => {
    const gary = (await tokens.issue('gary')).token;
    const malformed = [`status/${'x'.repeat(200)}`, 'history/a%00b'];
    const answers: number[] = [];
    for (let i = 0; i < 5; i++) answers.push((await read(malformed[i % 2]!, gary)).status);
    answers.push((await read(malformed[0]!)).status);
    expect(answers).toEqual([400, 400, 400, 400, 400, 400]);
    const bad = await read(malformed[1]!, gary);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      type: 'https://causeway.dev/problems/invalid-request',
      errors: [expect.objectContaining({ field: 'taskId' })],
    });

    // All 3 of gary's points are left.
    const within: number[] = [];
    for (let i = 0; i < 3; i++) within.push((await read(`status/${randomUUID()}`, gary)).status);
    expect(within).toEqual([404, 404, 404]);
    expect((await read(`history/${randomUUID()}`, gary)).status).toBe(429);
  });

  // Checked after the charge, a page retrying `?limit=0` (or a typo, `?limt=5`) used up its
  // user's rate in 3 tries: every read of theirs, good ones too, was 429 for the rest of the window.
  it('charges nothing for a page of /user whose parameters are wrong: 400 each time, whatever the credential', async () => {
    const erika = (await tokens.issue('erika')).token;
    const malformed = [
      'user/erika?limit=0',
      'user/erika?before=not-a-cursor',
      'user/erika?limt=5',
      'user/erika?limit=1&limit=2',
      'user/misty?limit=101',
    ];
    const answers: number[] = [];
    for (const url of malformed) answers.push((await read(url, erika)).status);
    answers.push((await read(malformed[0]!)).status);
    expect(answers).toEqual([400, 400, 400, 400, 400, 400]);
    const bad = await read(malformed[2]!, erika);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      type: 'https://causeway.dev/problems/invalid-request',
      errors: [expect.objectContaining({ field: 'limt' })],
    });

    // All 3 of erika's points are left.
    const within: number[] = [];
    for (let i = 0; i < 3; i++) within.push((await read('user/erika?limit=5', erika)).status);
    expect(within).toEqual([200, 200, 200]);
    expect((await read('user/erika', erika)).status).toBe(429);
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
