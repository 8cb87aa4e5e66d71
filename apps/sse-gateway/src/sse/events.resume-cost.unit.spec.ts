import { testNotification } from '@causeway/platform/testing';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { get, type GatewayTestApp, startGatewayTestApp } from '../testing/gateway.test-app';
import { RECOVERY_POINTS, RESUME_ENTRIES_PER_POINT } from './event-stream.opener';

/**
 * A resume reads up to HISTORY_SCAN_LIMIT log entries and a recovery every recent position, for
 * one request: the user's rate pays for what it read, so that a loop of resumes (from a made-up
 * old Last-Event-ID, closed at once) is throttled like a loop of any request.
 */
describe('GET /events with Last-Event-ID: the cost of a resume', () => {
  let app: GatewayTestApp;
  const limiter = new RateLimiterMemory({ points: 100, duration: 60 });
  beforeAll(async () => {
    app = await startGatewayTestApp({
      rateLimiter: limiter,
      settings: { historyScanLimit: 1_000 },
    });
  });
  afterAll(() => app.close());

  const spent = async (userId: string) =>
    (await limiter.get(`user:${userId}`))?.consumedPoints ?? 0;
  async function until(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 3_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it("charges a resume's reads and its recovery to the user's rate; a plain open costs one point", async () => {
    const first = await app.log.append(
      testNotification({ targetType: 'user', targetIds: ['misty'] }),
    );
    for (let i = 0; i < 1_200; i++)
      await app.log.append(testNotification({ targetType: 'user', targetIds: ['misty'] }));
    await app.hub.caughtUp(3_000);

    expect((await get(app, '/events', await app.bearer('brock'))).status).toBe(200);
    expect(await spent('brock')).toBe(1);

    const resumed = await get(app, '/events', {
      ...(await app.bearer('ash')),
      'Last-Event-ID': first!,
    });
    expect(resumed.status).toBe(200);
    // 1 001 entries read (the gap holds more than HISTORY_SCAN_LIMIT: scan-limit), a recovery.
    const cost = 1 + Math.floor(1_001 / RESUME_ENTRIES_PER_POINT) + RECOVERY_POINTS;
    await until(async () => (await spent('ash')) === cost, `ash to have spent ${cost} points`);
    expect(await spent('ash')).toBe(cost);
  });
});
