import { EventSource } from 'eventsource';
import { TokenService } from '@causeway/platform';
import { gatewayOpenApi } from '../openapi/gateway.openapi';
import { TestSink } from '../testing/sse.test-sink';
import {
  type GatewayTestApp,
  startGatewayTestApp,
  TEST_ADMIN_TOKEN,
} from '../testing/gateway.test-app';

/** POST /api/presence/{userId}/disconnect: an operator ends every stream of a user now. */
describe('POST /api/presence/{userId}/disconnect', () => {
  let app: GatewayTestApp;
  beforeAll(async () => {
    app = await startGatewayTestApp();
  });
  afterAll(() => app.close());

  const disconnect = (userId: string, headers: Record<string, string>, body?: unknown) =>
    fetch(`${app.url}/api/presence/${encodeURIComponent(userId)}/disconnect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const admin = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
  const open = async (userId: string) => {
    const sink = new TestSink();
    await app.hub.open({ userId, trainerIds: [] }, sink);
    return sink;
  };

  it('ends the streams of the user with a `disconnected` frame, and only theirs', async () => {
    const tabs = [await open('ash'), await open('ash')];
    const misty = await open('misty');
    const response = await disconnect('ash', admin, { reason: 'account locked' });
    expect(response.status).toBe(202);
    // The one instance listening on the channel is this one.
    expect(await response.json()).toEqual({ userId: 'ash', instances: 1 });
    await until(() => tabs.every((tab) => tab.ended));
    for (const tab of tabs)
      expect(tab.notifications('disconnected').map((frame) => frame.params)).toEqual([
        { reason: 'account locked' },
      ]);
    expect(misty.ended).toBe(false);
    expect(app.hub.connectionsOf('ash')).toHaveLength(0);
  });

  // The admin token was checked in the handler, after the body parsers had run: a caller
  // without it had the gateway read and parse a body up to the parsers' limit, and learnt from
  // a 400 or 413 what the route would take (session 48).
  it.each([
    ['malformed JSON', '{"reason": '],
    ["past the parsers' limit", JSON.stringify({ reason: 'x'.repeat(200_000) })],
  ])(
    'answers 401 to a caller without the admin token before reading the body (%s)',
    async (_, body) => {
      const tokens: Record<string, string>[] = [
        {},
        { Authorization: 'Bearer not-the-admin-token-0123456789' },
      ];
      for (const headers of tokens) {
        const response = await fetch(`${app.url}/api/presence/ash/disconnect`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
        });
        expect(response.status).toBe(401);
        expect(await response.json()).toMatchObject({ status: 401 });
      }
      // With the token, the body is read as before.
      const read = await fetch(`${app.url}/api/presence/ash/disconnect`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...admin },
        body,
      });
      expect([400, 413]).toContain(read.status);
    },
  );

  /** A real EventSource on GET /events, and each answer it got: status, and whether it resumed. */
  const eventSource = (bearer: { Authorization: string }) => {
    const answers: { status: number; resumed: boolean }[] = [];
    const source = new EventSource(`${app.url}/events`, {
      fetch: async (url, init) => {
        const headers = { ...(init?.headers as Record<string, string>), ...bearer };
        const response = await fetch(url, { ...init, headers });
        answers.push({ status: response.status, resumed: 'Last-Event-ID' in headers });
        return response;
      },
    });
    return { source, answers };
  };

  it("stops an EventSource's own reconnect with 204; a new stream of the user still opens", async () => {
    const bearer = await app.bearer('koga');
    const { source, answers } = eventSource(bearer);
    try {
      await new Promise((resolve) => (source.onopen = resolve));
      expect((await disconnect('koga', admin, { reason: 'cheating' })).status).toBe(202);
      // It reconnects by itself after the retry hint, with Last-Event-ID: 204 ends it for good.
      await until(() => source.readyState === EventSource.CLOSED, 10_000);
      expect(answers).toEqual([
        { status: 200, resumed: false },
        { status: 204, resumed: true },
      ]);
      const fresh = new AbortController();
      const reopened = await fetch(`${app.url}/events`, { headers: bearer, signal: fresh.signal });
      expect(reopened.status).toBe(200);
      fresh.abort();
    } finally {
      source.close();
    }
  });

  it('serves the reconnect of a stream the page opened after the order', async () => {
    expect((await disconnect('surge', admin, { reason: 'cheating' })).status).toBe(202);
    const bearer = await app.bearer('surge');
    const { source, answers } = eventSource(bearer);
    try {
      await new Promise((resolve) => (source.onopen = resolve));
      await until(() => app.hub.connectionsOf('surge').length === 1);
      // Its connection drops (a network blip): the EventSource reconnects by itself.
      for (const connection of app.hub.connectionsOf('surge')) connection.destroy();
      await until(() => answers.length === 2, 10_000);
      expect(answers).toEqual([
        { status: 200, resumed: false },
        { status: 200, resumed: true },
      ]);
    } finally {
      source.close();
    }
  });

  it('gives a default reason when none is sent', async () => {
    const tab = await open('brock');
    expect((await disconnect('brock', admin)).status).toBe(202);
    await until(() => tab.ended);
    expect(tab.notifications('disconnected')[0]?.params).toEqual({
      reason: 'disconnected by an operator',
    });
  });

  it('with "revoke": true also refuses the tokens issued until then, everywhere they are checked', async () => {
    const bearer = await app.bearer('sabrina');
    const tab = await open('sabrina');
    const before = Date.now();
    const response = await disconnect('sabrina', admin, { revoke: true, reason: 'banned' });
    expect(response.status).toBe(202);
    const answer = (await response.json()) as { revokedUntil: number; instances: number };
    expect(answer).toEqual({ userId: 'sabrina', instances: 1, revokedUntil: expect.any(Number) });
    expect(answer.revokedUntil).toBeGreaterThanOrEqual(before);
    expect(app.revocations!.revokedUntil('sabrina')).toBe(answer.revokedUntil);
    await until(() => tab.ended);
    // The revocation ends the stream first (here or on any instance), with the operator's reason.
    expect(tab.notifications('disconnected').map((frame) => frame.params)).toEqual([
      { reason: 'banned' },
    ]);
    // The reconnect with the old token is refused, as is any other use of it.
    const reopened = await fetch(`${app.url}/events`, { headers: bearer });
    expect(reopened.status).toBe(401);
    expect(await reopened.json()).toMatchObject({
      reason: 'invalid',
      detail: expect.stringContaining('token revoked'),
    });
    expect((await fetch(`${app.url}/api/positions`, { headers: bearer })).status).toBe(401);
    // Someone else's token is not touched.
    expect(
      (await fetch(`${app.url}/api/positions`, { headers: await app.bearer('koga') })).status,
    ).toBe(200);
  });

  it("cuts the revocation at the server's clock, not this host's (session 30)", async () => {
    // This gateway's host runs 90 s behind the server's clock (Redis', and the issuers').
    const behind = await startGatewayTestApp({ serverTime: () => Date.now() + 90_000 });
    try {
      const issuedAt = Date.now() + 90_000; // a token issued just now by the server's clock
      const response = await fetch(`${behind.url}/api/presence/erika/disconnect`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...admin },
        body: JSON.stringify({ revoke: true }),
      });
      expect(response.status).toBe(202);
      const { revokedUntil } = (await response.json()) as { revokedUntil: number };
      expect(revokedUntil).toBeGreaterThanOrEqual(issuedAt);
      // "Sign out everywhere" covers the tokens issued up to now, wherever they are checked.
      expect(TokenService.revokedBy(issuedAt, revokedUntil)).toBe(true);
    } finally {
      await behind.close();
    }
  });

  it('refuses anyone without the admin token (401), and ends nothing', async () => {
    const tab = await open('gary');
    const user = await disconnect('gary', await app.bearer('gary'));
    expect(user.status).toBe(401);
    expect(await user.json()).toMatchObject({
      type: 'https://causeway.dev/problems/unauthenticated',
      reason: 'invalid',
      detail: expect.stringContaining('ADMIN_TOKEN'),
    });
    const none = await disconnect('gary', {});
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ reason: 'missing' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tab.ended).toBe(false);
  });

  it('refuses a reason that is not a short string, naming it (400), and ends nothing', async () => {
    const tab = await open('erika');
    for (const [body, field] of [
      [{ reason: 42 }, 'reason'],
      [{ reason: 'x'.repeat(201) }, 'reason'],
      [{ reason: '' }, 'reason'],
      [['x'], 'body'],
      // Valid JSON, not an object: named as such, not "not valid JSON".
      [null, 'body'],
      [42, 'body'],
      ['x', 'body'],
      [{ revoke: 'yes' }, 'revoke'],
      [{ revok: true }, 'revok'],
    ] as const) {
      const response = await disconnect('erika', admin, body);
      expect(response.status).toBe(400);
      const problem = (await response.json()) as { type: string; errors: { field: string }[] };
      expect(problem.type).toBe('https://causeway.dev/problems/invalid-request');
      expect(problem.errors.map((error) => error.field)).toEqual([field]);
    }
    expect(app.revocations!.revokedUntil('erika')).toBeUndefined();
    const plain = await fetch(`${app.url}/api/presence/erika/disconnect`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'text/plain' },
      body: '{"revoke":true}',
    });
    expect(plain.status).toBe(415);
    expect(await plain.json()).toMatchObject({
      type: 'https://causeway.dev/problems/unsupported-media-type',
    });
    const long = await disconnect('u'.repeat(129), admin);
    expect(long.status).toBe(400);
    // No token's `sub` holds a NUL (TokenService refuses it): an id with one names no user, and
    // a revocation of it would be kept for nobody.
    const nul = await disconnect('ash\u0000', admin, { revoke: true });
    expect(nul.status).toBe(400);
    expect(((await nul.json()) as { errors: { field: string }[] }).errors).toEqual([
      { field: 'userId', message: expect.stringContaining('NUL') },
    ]);
    expect(app.revocations!.revokedUntil('ash\u0000')).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tab.ended).toBe(false);
  });

  it('takes a userId as long as its OpenAPI parameter allows, and refuses a longer one (400)', async () => {
    const parameter = (
      gatewayOpenApi().paths['/api/presence/{userId}/disconnect']!.post!.parameters as {
        name: string;
        schema: { maxLength: number };
      }[]
    ).find(({ name }) => name === 'userId')!;
    const longest = 'u'.repeat(parameter.schema.maxLength);
    expect((await disconnect(longest, admin)).status).toBe(202);
    const over = await disconnect(`${longest}u`, admin);
    expect(over.status).toBe(400);
    expect(((await over.json()) as { detail: string }).detail).toBe(
      `userId must be 1 to ${parameter.schema.maxLength} characters`,
    );
  });

  it('refuses `?revoke=true` in the query (400 naming it), rather than ending streams and revoking nothing', async () => {
    const tab = await open('blaine');
    const response = await fetch(`${app.url}/api/presence/blaine/disconnect?revoke=true`, {
      method: 'POST',
      headers: admin,
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as {
      type: string;
      detail: string;
      errors: { field: string; message: string }[];
    };
    expect(problem.type).toBe('https://causeway.dev/problems/invalid-request');
    expect(problem.errors).toEqual([{ field: 'revoke', message: expect.stringMatching(/body/) }]);
    expect(problem.detail).toMatch(/^revoke /);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tab.ended).toBe(false);
    expect(app.revocations!.revokedUntil('blaine')).toBeUndefined();
    // In the body, as documented, it revokes.
    expect((await disconnect('blaine', admin, { revoke: true })).status).toBe(202);
    await until(() => tab.ended);
    expect(app.revocations!.revokedUntil('blaine')).toBeDefined();
  });
});

async function until(probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('POST /api/presence/{userId}/disconnect where tokens are not revocable', () => {
  it('answers "revoke": true with 409 and does nothing, and disconnects without it', async () => {
    const app = await startGatewayTestApp({ revocable: false });
    try {
      const sink = new TestSink();
      await app.hub.open({ userId: 'lorelei', trainerIds: [] }, sink);
      const post = (body: unknown) =>
        fetch(`${app.url}/api/presence/lorelei/disconnect`, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify(body),
        });
      const refused = await post({ revoke: true });
      expect(refused.status).toBe(409);
      expect(await refused.json()).toMatchObject({
        type: 'https://causeway.dev/problems/revocation-unavailable',
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(sink.ended).toBe(false);
      expect((await post({})).status).toBe(202);
      await until(() => sink.ended);
    } finally {
      await app.close();
    }
  });
});
