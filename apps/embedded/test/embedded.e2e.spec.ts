import path from 'node:path';
import {
  devToken,
  expectMethodsNotAllowed,
  openSseStream,
  rawHttpExchange,
  startServiceProcess,
  type ServiceProcess,
  type SseStream,
} from '@causeway/testkit';

// The embedded mode as a user starts it: one process, no servers. Everything below goes through
// real HTTP and a real SSE client library.
describe('embedded mode (one process, in-memory store and bus)', () => {
  let app: ServiceProcess;
  const streams: SseStream[] = [];

  beforeAll(async () => {
    app = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        JWT_SECRET: 'embedded-test-secret-0123456789-abcdef',
        DEV_TOKENS: 'true',
        LOG_LEVEL: 'warn',
        TRAINER_MAX_GROUPS: '2',
      },
    });
  });
  afterAll(async () => {
    for (const stream of streams) stream.close();
    await app?.stop();
  });

  const signIn = (userId: string) => devToken(app.url, userId);
  async function stream(token: string): Promise<SseStream> {
    const opened = await openSseStream(`${app.url}/events`, { token });
    streams.push(opened);
    await opened.waitFor((f) => f.method === 'session', 'the session frame');
    return opened;
  }
  async function move(token: string, trainerId: string, body: Record<string, unknown>) {
    const response = await fetch(`${app.url}/api/trainers/${trainerId}/move`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }
  async function statusOf(token: string, commandId: string, until: string) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const response = await fetch(`${app.url}/api/commands/${commandId}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await response.json()) as Record<string, unknown>;
      if (body.status === until || Date.now() > deadline) return body;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('serves the demo page', async () => {
    const page = await fetch(`${app.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('demo.js');
    expect((await fetch(`${app.url}/demo.js`)).status).toBe(200);
    // No framework advertisement; no MIME sniffing of what is served.
    expect(page.headers.get('x-powered-by')).toBeNull();
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('says at start-up, in a warn line, that dev tokens sign anyone in as any user', () => {
    const lines = app.stdoutLines().filter((line) => line.includes('DEV_TOKENS=true'));
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({
        level: 40,
        context: 'DevTokens',
        msg: expect.stringContaining('a token for any user') as unknown,
      }),
    ]);
  });

  it("documents command-api and the SSE gateway in one /docs: both apps' paths and components (order-processor's too: embedded.orders)", async () => {
    const ui = await fetch(`${app.url}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');
    const response = await fetch(`${app.url}/docs-json`);
    expect(response.status).toBe(200);
    const spec = (await response.json()) as {
      openapi: string;
      security: unknown;
      paths: Record<string, Record<string, { security?: unknown }>>;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    };
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        // command-api's
        '/api/trainers/{trainerId}/move',
        '/rpc',
        '/api/commands/{commandId}',
        // the gateway's
        '/events',
        '/api/stream-tokens',
        '/api/session',
        '/api/presence',
        '/api/positions',
      ]),
    );
    expect(spec.paths['/events']!.get!.security).toEqual([
      { bearer: [] },
      { streamToken: [] },
      { sessionCookie: [] },
    ]);
    expect(Object.keys(spec.components.securitySchemes)).toEqual(
      expect.arrayContaining(['bearer', 'streamToken', 'sessionCookie']),
    );
    expect(Object.keys(spec.components.schemas)).toEqual(
      expect.arrayContaining(['MoveBody', 'Accepted', 'Problem', 'SseNotification', 'Positions']),
    );
    // command-api's operations still need its bearer token.
    expect(spec.security).toEqual([{ bearer: [] }]);
    const yaml = await fetch(`${app.url}/docs-yaml`);
    expect(yaml.status).toBe(200);
    expect(await yaml.text()).toContain('/events:');
  });

  it('moves a trainer: accepted at once, processed, and every user sees the position live', async () => {
    const ash = await signIn('ash');
    const misty = await signIn('misty');
    const ashStream = await stream(ash);
    const mistyStream = await stream(misty);

    const started = await move(ash, 'ash', { directionX: 1, directionY: 0, action: 'start' });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ status: 'accepted', commandId: expect.any(String) });
    for (const s of [ashStream, mistyStream])
      await s.waitFor(
        (f) =>
          f.method === 'position.update' &&
          f.params.trainerId === 'ash' &&
          f.params.isMoving === true,
        'ash moving',
      );
    const stopped = await move(ash, 'ash', { directionX: 0, directionY: 0, action: 'stop' });
    const seen = await mistyStream.waitFor(
      (f) =>
        f.method === 'position.update' &&
        f.params.trainerId === 'ash' &&
        f.params.isMoving === false,
      'ash stopped',
    );
    expect(seen.params.x as number).toBeGreaterThan(0);
    expect(await statusOf(ash, stopped.body.commandId as string, 'processed')).toMatchObject({
      status: 'processed',
      version: expect.any(Number),
    });
    // The command's outcome goes to its sender only.
    await ashStream.waitFor(
      (f) => f.method === 'command.result' && f.params.commandId === stopped.body.commandId,
      'ash command result',
    );
    expect(mistyStream.frames.some((f) => f.method === 'command.result')).toBe(false);
  });

  it('reports a rejected command with its reason to the sender only', async () => {
    const brock = await signIn('brock');
    const brockStream = await stream(brock);
    // A trainer that never moved does not exist yet: it cannot join a group.
    const join = await fetch(`${app.url}/api/trainers/brock/groups/pewter`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${brock}` },
    });
    expect(join.status).toBe(202);
    const rejected = (await join.json()) as { commandId: string };
    const status = await statusOf(brock, rejected.commandId, 'rejected');
    expect(status).toMatchObject({
      status: 'rejected',
      reason: expect.stringMatching(/brock/),
    });
    await brockStream.waitFor(
      (f) => f.method === 'command.result' && f.params.status === 'rejected',
      'the rejection',
    );
  });

  it('rejects a join beyond TRAINER_MAX_GROUPS, naming the bound; the trainer stays in the others', async () => {
    const dawn = await signIn('dawn');
    await move(dawn, 'dawn', { directionX: 1, directionY: 0, action: 'stop' }); // creates dawn
    const join = async (group: string, until: string) => {
      const answer = await fetch(`${app.url}/api/trainers/dawn/groups/${group}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${dawn}` },
      });
      expect(answer.status).toBe(202);
      return statusOf(dawn, ((await answer.json()) as { commandId: string }).commandId, until);
    };
    expect(await join('twinleaf', 'processed')).toMatchObject({ status: 'processed' });
    expect(await join('sandgem', 'processed')).toMatchObject({ status: 'processed' });
    expect(await join('jubilife', 'rejected')).toMatchObject({
      status: 'rejected',
      reason: 'trainer "dawn" is in 2 groups, the most a trainer may be in: leave one first',
    });
  });

  it("refuses a join or leave for another's trainer naming the group change, not a move", async () => {
    const ash = await signIn('ash');
    const change = (method: string) =>
      fetch(`${app.url}/api/trainers/misty/groups/cerulean`, {
        method,
        headers: { authorization: `Bearer ${ash}` },
      });
    for (const [method, action] of [
      ['PUT', 'join'],
      ['DELETE', 'leave'],
    ]) {
      const answer = await change(method!);
      expect(answer.status).toBe(403);
      expect(await answer.json()).toMatchObject({
        type: 'https://causeway.dev/problems/forbidden-trainer',
        trainerId: 'misty',
        detail: `user "ash" may not make trainer "misty" ${action} group "cerulean"`,
      });
    }
  });

  it("keeps a group's moves inside the group", async () => {
    const gary = await signIn('gary');
    const may = await signIn('may');
    const garyStream = await stream(gary);
    const mayStream = await stream(may);
    await move(gary, 'gary', { directionX: 0, directionY: 1, action: 'start' }); // creates gary
    const join = await fetch(`${app.url}/api/trainers/gary/groups/rocket`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${gary}` },
    });
    expect(join.status).toBe(202);
    const joinId = ((await join.json()) as { commandId: string }).commandId;
    expect(await statusOf(gary, joinId, 'processed')).toMatchObject({ status: 'processed' });
    const privateMove = await move(gary, 'gary', {
      directionX: -1,
      directionY: 0,
      action: 'start',
    });
    await garyStream.waitFor(
      (f) => f.method === 'position.update' && f.params.dirX === -1,
      'gary sees his own move in the group',
    );
    await statusOf(gary, privateMove.body.commandId as string, 'processed');
    // may is not in the group: a later broadcast proves her stream is live and got nothing private.
    const ash = await signIn('ash');
    await move(ash, 'ash', { directionX: 0, directionY: -1, action: 'start' });
    await mayStream.waitFor(
      (f) => f.params.trainerId === 'ash' && f.params.dirY === -1,
      'a later broadcast',
    );
    expect(
      mayStream.frames.some((f) => f.params.trainerId === 'gary' && f.params.dirX === -1),
    ).toBe(false);
    // The positions read model answers with the same rule: may sees ash, not the group's gary.
    const visibleTo = async (token: string) =>
      (
        (await (
          await fetch(`${app.url}/api/positions`, { headers: { authorization: `Bearer ${token}` } })
        ).json()) as { positions: { trainerId: string }[] }
      ).positions.map((p) => p.trainerId);
    expect(await visibleTo(may)).toEqual(expect.arrayContaining(['ash']));
    expect(await visibleTo(may)).not.toContain('gary');
    expect(await visibleTo(gary)).toEqual(expect.arrayContaining(['ash', 'gary']));
  });

  it("answers the gateway's 401 as command-api does: type, challenge, media type, field errors", async () => {
    for (const target of ['/api/presence', '/api/positions', '/events', '/api/commands/x']) {
      const response = await fetch(`${app.url}${target}`);
      expect({ target, status: response.status }).toEqual({ target, status: 401 });
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="causeway"');
      expect(((await response.json()) as { type: string }).type).toBe(
        'https://causeway.dev/problems/unauthenticated',
      );
    }
    const badId = await fetch(`${app.url}/events?lastEventId=nope`, {
      headers: { authorization: `Bearer ${await signIn('oak')}` },
    });
    expect(badId.status).toBe(400);
    expect(((await badId.json()) as { errors: unknown }).errors).toEqual([
      { field: 'Last-Event-ID', message: 'must be an id received in an `id:` line' },
    ]);
  });

  it('answers a method a known path does not serve with 405 and Allow; an unknown path with 404', async () => {
    await expectMethodsNotAllowed(app.url, [
      ['GET', '/rpc', 'POST'],
      ['PUT', '/rpc', 'POST'],
      ['GET', '/trainer.Move', 'POST'],
      ['GET', '/api/trainers/ash/move', 'POST'],
      ['PATCH', '/api/trainers/ash/groups/g1', 'DELETE, PUT'],
      ['GET', '/api/dev/tokens', 'POST'],
      ['DELETE', '/api/commands/x', 'GET, HEAD'],
      ['OPTIONS', '/events', 'GET, HEAD'],
      ['POST', '/api/positions', 'GET, HEAD'],
    ]);
    // HEAD of a GET route is served as Express serves it.
    const head = await fetch(`${app.url}/demo.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    for (const method of ['GET', 'PUT']) {
      const unknown = await fetch(`${app.url}/api/nothing-here`, { method });
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get('allow')).toBeNull();
      expect(unknown.headers.get('content-type')).toBe('application/problem+json');
    }
  });

  it('answers a request node:http cannot parse with a problem document: 431, 400', async () => {
    const tooLarge = await rawRequest(
      `GET /api/presence HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(tooLarge.head).toMatch(/^HTTP\/1\.1 431 /);
    expect(tooLarge.head).toMatch(/\r\nContent-Type: application\/problem\+json/i);
    expect(JSON.parse(tooLarge.body)).toMatchObject({
      status: 431,
      title: 'Request Header Fields Too Large',
    });
    const malformed = await rawRequest('POST /rpc HTTP/1.1\r\nBad Header\r\n\r\n');
    expect(malformed.head).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(malformed.body)).toMatchObject({ status: 400, title: 'Bad Request' });
    // The server is fine afterwards.
    expect((await fetch(`${app.url}/`)).status).toBe(200);
  });

  const rawRequest = (raw: string) => rawHttpExchange(app.url, raw);
});

describe('embedded mode rate limits', () => {
  let app: ServiceProcess;
  beforeAll(async () => {
    app = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        JWT_SECRET: 'embedded-test-secret-0123456789-abcdef',
        DEV_TOKENS: 'true',
        LOG_LEVEL: 'warn',
        RATE_LIMIT_POINTS: '5',
        RATE_LIMIT_WINDOW_S: '60',
      },
    });
  });
  afterAll(async () => {
    await app?.stop();
  });

  async function expectRateLimited(response: Response) {
    expect(response.status).toBe(429);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const retryAfter = Number(response.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await response.json()).toMatchObject({
      type: 'https://causeway.dev/problems/rate-limited',
      status: 429,
      title: 'Too Many Requests',
    });
  }

  it("limits the gateway's /api/* and stream opens per caller, on counters of their own", async () => {
    const token = await devToken(app.url, 'ash');
    const auth = { authorization: `Bearer ${token}` };
    const positions = () => fetch(`${app.url}/api/positions`, { headers: auth });
    const answers = await Promise.all(Array.from({ length: 8 }, positions));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    await Promise.all(answers.map((a) => a.arrayBuffer()));
    await expectRateLimited(await positions());
    await expectRateLimited(await fetch(`${app.url}/events`, { headers: auth }));
    // Another caller has a rate of their own.
    const misty = await devToken(app.url, 'misty');
    const mine = await fetch(`${app.url}/api/positions`, {
      headers: { authorization: `Bearer ${misty}` },
    });
    expect(mine.status).toBe(200);
    await mine.arrayBuffer();
    // The gateway's counters are not command-api's: ash may still send commands.
    const move = await fetch(`${app.url}/api/trainers/ash/move`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ directionX: 1, directionY: 0, action: 'start' }),
    });
    expect(move.status).toBe(202);
  });

  it("refuses an unknown parameter of a page of the caller's tasks, naming it, as order-processor does", async () => {
    const token = await devToken(app.url, 'erika');
    const auth = { authorization: `Bearer ${token}` };
    // `?limt=5` (a typo) answered the default page of 20 as if no limit had been asked.
    const typo = await fetch(`${app.url}/api/v2/progress/user/erika?limt=5`, { headers: auth });
    expect(typo.status).toBe(400);
    expect(await typo.json()).toMatchObject({
      type: 'https://causeway.dev/problems/invalid-request',
      errors: [{ field: 'limt', message: 'is not a known parameter (limit, before)' }],
    });
    const page = await fetch(`${app.url}/api/v2/progress/user/erika?limit=5`, { headers: auth });
    expect(page.status).toBe(200);
    expect(await page.json()).toMatchObject({ userId: 'erika', tasks: [] });
  });

  it("limits the progress reads per caller, on counters of their own, as order-processor's", async () => {
    const token = await devToken(app.url, 'brock');
    const auth = { authorization: `Bearer ${token}` };
    const monitor = () => fetch(`${app.url}/api/v2/progress/monitor`, { headers: auth });
    const answers = await Promise.all(Array.from({ length: 8 }, monitor));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    await Promise.all(answers.map((a) => a.arrayBuffer()));
    await expectRateLimited(
      await fetch(`${app.url}/api/v2/progress/user/brock`, { headers: auth }),
    );
    // The reads' counters are not the gateway's: brock may still read positions.
    const positions = await fetch(`${app.url}/api/positions`, { headers: auth });
    expect(positions.status).toBe(200);
    await positions.arrayBuffer();
  });
});
