import {
  get,
  type GatewayTestApp,
  startGatewayTestApp,
  TEST_ADMIN_TOKEN,
} from '../testing/gateway.test-app';

/**
 * The session cookie (POST /api/session) is the credential of a browser page: whatever the page
 * reads from the gateway — GET /events, GET /api/positions, GET /api/presence — accepts it as it
 * accepts the bearer access token it was made from.
 */
describe('the session cookie', () => {
  let app: GatewayTestApp;
  let cookie: string;
  beforeAll(async () => {
    app = await startGatewayTestApp();
    await app.positions.apply({
      trainerId: 'ash',
      x: 3,
      y: 4,
      isMoving: false,
      dirX: 0,
      dirY: 0,
      speed: 0,
      startedAt: 0,
      version: 1,
      updatedAt: Date.now(),
    });
    const session = await fetch(`${app.url}/api/session`, {
      method: 'POST',
      headers: await app.bearer('ash'),
    });
    expect(session.status).toBe(204);
    cookie = session.headers.get('set-cookie')!.split(';')[0]!;
  });
  afterAll(() => app.close());

  it.each(['/events', '/api/positions', '/api/presence'])(
    'is accepted by GET %s like the bearer token',
    async (path) => {
      const viaBearer = await get(app, path, await app.bearer('ash'));
      const viaCookie = await get(app, path, { Cookie: cookie });
      expect(viaBearer.status).toBe(200);
      expect(viaCookie.status).toBe(200);
      expect(viaCookie.contentType).toBe(viaBearer.contentType);
    },
  );

  it('gets the positions the caller may see', async () => {
    const answer = await get(app, '/api/positions', { Cookie: cookie });
    expect(answer.body).toMatchObject({ positions: [{ trainerId: 'ash', x: 3, y: 4 }] });
  });

  it("gets the caller's own presence, not everyone's", async () => {
    const controller = new AbortController();
    // misty is online, in no group with ash; ash's own stream is opened with the cookie.
    const streams = await Promise.all([
      fetch(`${app.url}/events`, { headers: { Cookie: cookie }, signal: controller.signal }),
      fetch(`${app.url}/events`, { headers: await app.bearer('misty'), signal: controller.signal }),
    ]);
    try {
      expect(streams.map((response) => response.status)).toEqual([200, 200]);
      const users = async (headers: Record<string, string>) => {
        const body = (await get(app, '/api/presence', headers)).body as {
          instances: { users: { userId: string }[] }[];
        };
        return body.instances.flatMap((instance) => instance.users.map((user) => user.userId));
      };
      expect(await users({ Authorization: `Bearer ${TEST_ADMIN_TOKEN}` })).toEqual([
        'ash',
        'misty',
      ]);
      expect(await users({ Cookie: cookie })).toEqual(['ash']);
    } finally {
      controller.abort();
    }
  });

  it.each(['/api/positions', '/api/presence'])(
    'is checked by GET %s: a bad one or a bad bearer token beside a good one is 401',
    async (path) => {
      for (const headers of [
        {} as Record<string, string>,
        { Cookie: 'causeway_token=garbage' },
        { Cookie: 'causeway_token=%E0%A4%A' },
        { Cookie: cookie, Authorization: 'Bearer not-a-jwt' },
      ]) {
        const answer = await get(app, path, headers);
        expect(answer.status).toBe(401);
        expect(answer.contentType).toContain('application/problem+json');
        expect(answer.body).toMatchObject({ status: 401, title: 'Unauthorized' });
      }
    },
  );

  it('is read as __Host-causeway_token (set under TLS) before a causeway_token another host set', async () => {
    const token = encodeURIComponent((await app.tokens.issue('ash')).token);
    // A sibling subdomain's cookie (Domain=, a longer Path) comes first in the header: it was
    // the one read, and the page's stream was another user's, or a 401.
    for (const tossed of [
      'causeway_token=garbage',
      `causeway_token=${encodeURIComponent((await app.tokens.issue('gary')).token)}`,
    ]) {
      const answer = await get(app, '/api/positions', {
        Cookie: `${tossed}; __Host-causeway_token=${token}`,
      });
      expect({ tossed, status: answer.status, body: answer.body }).toMatchObject({
        tossed,
        status: 200,
        body: { positions: [{ trainerId: 'ash' }] },
      });
    }
    // A bad __Host- one is 401, whatever the other.
    const bad = await get(app, '/api/positions', {
      Cookie: `causeway_token=${token}; __Host-causeway_token=garbage`,
    });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ detail: expect.stringContaining('__Host-causeway_token') });
  });

  it.each(['/api/positions', '/api/presence'])(
    'is the only alternative to the bearer token for GET %s: a ?token= stream token is for /events',
    async (path) => {
      const stream = (await app.tokens.issue('ash', { use: 'stream' })).token;
      const answer = await get(app, `${path}?token=${stream}`);
      expect(answer.status).toBe(401);
    },
  );
});
