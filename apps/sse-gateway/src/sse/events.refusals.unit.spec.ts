import { get, type GatewayTestApp, startGatewayTestApp } from '../testing/gateway.test-app';

/**
 * GET /events answers the requests it refuses with problem details, the same on both of its
 * routes: `/events` (the node:http listener in front of Express, which hands refusals on to
 * Express) and `/events/` (straight to Express's EventsController).
 */
describe('GET /events refusals', () => {
  let app: GatewayTestApp;
  beforeAll(async () => {
    app = await startGatewayTestApp();
  });
  afterAll(() => app.close());

  const routes = ['/events', '/events/'];

  it.each(routes)('%s opens a stream for a good request (the baseline)', async (route) => {
    const answer = await get(app, `${route}?lastEventId=0-0`, await app.bearer('ash'));
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^text\/event-stream/);
  });

  it.each(routes)(
    '%s answers a session cookie that is not URL-encoded with 401 naming the cookie',
    async (route) => {
      for (const cookie of ['causeway_token=%E0%A4%A', 'other=1; causeway_token=%']) {
        const answer = await get(app, route, { Cookie: cookie });
        expect(answer.status).toBe(401);
        expect(answer.contentType).toContain('application/problem+json');
        expect(answer.body).toMatchObject({ status: 401, title: 'Unauthorized' });
        expect(answer.body?.detail).toContain('causeway_token cookie');
      }
    },
  );

  it.each(routes)('%s answers a repeated query parameter with 400 naming it', async (route) => {
    const headers = await app.bearer('ash');
    const stream = (await app.tokens.issue('ash', { use: 'stream' })).token;
    for (const [query, name, credentials] of [
      ['lastEventId=0-0&lastEventId=0-0', 'lastEventId', headers],
      ['lastEventId=1-0&lastEventId=2-0', 'lastEventId', headers],
      [`token=${stream}&token=${stream}`, 'token', {}],
      ['token=a&token=b', 'token', {}],
      ['heartbeat=event&heartbeat=event', 'heartbeat', headers],
      // Even beside a credential that would do.
      [`token=${stream}&token=b`, 'token', headers],
    ] as const) {
      const answer = await get(app, `${route}?${query}`, credentials);
      expect({ query, status: answer.status }).toEqual({ query, status: 400 });
      expect(answer.contentType).toContain('application/problem+json');
      expect(answer.body).toMatchObject({
        type: 'https://causeway.dev/problems/invalid-request',
        status: 400,
        title: 'Bad Request',
        detail: `${name} must appear once`,
        errors: [{ field: name, message: 'must appear once' }],
      });
    }
  });

  it.each(routes)(
    '%s answers an unknown ?heartbeat= with 400 naming it, before the credential',
    async (route) => {
      for (const credentials of [await app.bearer('ash'), {}]) {
        const answer = await get(app, `${route}?heartbeat=events`, credentials);
        expect(answer.status).toBe(400);
        expect(answer.body).toMatchObject({
          type: 'https://causeway.dev/problems/invalid-request',
          detail: 'heartbeat must be one of comment, event',
          errors: [{ field: 'heartbeat', message: 'must be one of comment, event' }],
        });
      }
      for (const kind of ['comment', 'event']) {
        const answer = await get(app, `${route}?heartbeat=${kind}`, await app.bearer('ash'));
        expect({ kind, status: answer.status }).toEqual({ kind, status: 200 });
      }
    },
  );
});
