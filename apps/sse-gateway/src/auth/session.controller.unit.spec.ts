import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
import { type GatewayTestApp, startGatewayTestApp } from '../testing/gateway.test-app';

/**
 * POST /api/stream-tokens and POST /api/session take a bearer access token and no body: without
 * the token, the body parsers read and parsed a body up to their 100 kB before the handler's 401,
 * and a caller without a token was answered 400 or 413 about it instead.
 */
describe.each(['/api/stream-tokens', '/api/session'])('POST %s, which takes no body', (path) => {
  let app: GatewayTestApp;
  const open: ClientRequest[] = [];
  beforeAll(async () => {
    app = await startGatewayTestApp();
  });
  afterAll(async () => {
    // A request still waiting for its answer would hold the app's close.
    for (const sent of open) sent.destroy();
    await app.close();
  });

  const post = async (headers: Record<string, string>, body?: string) => {
    const response = await fetch(`${app.url}${path}`, { method: 'POST', headers, body });
    return {
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
      body: await response.json(),
    };
  };

  it('without a bearer token, is answered the 401 it gets without a body, whatever the body', async () => {
    const bodiless = await post({});
    expect(bodiless).toMatchObject({
      status: 401,
      body: { type: 'https://causeway.dev/problems/unauthenticated', reason: 'missing' },
    });
    const bodies: { body: string; type: string }[] = [
      { body: '{"token": ', type: 'application/json' },
      { body: JSON.stringify({ pad: 'x'.repeat(200_000) }), type: 'application/json' },
      { body: '{}', type: 'application/json; charset=latin-9' },
      { body: 'a=%zz&b', type: 'application/x-www-form-urlencoded' },
    ];
    for (const authorization of [undefined, 'Basic YXNoOnBpa2FjaHU=', 'Bearer '])
      for (const { body, type } of bodies) {
        const headers = {
          'Content-Type': type,
          ...(authorization !== undefined && { Authorization: authorization }),
        };
        expect({ authorization, type, ...(await post(headers, body)) }).toEqual({
          authorization,
          type,
          ...bodiless,
        });
      }
  });

  it('without a bearer token, is answered before its body has arrived: it is not waited for', async () => {
    const { hostname, port } = new URL(app.url);
    const sent = httpRequest({
      host: hostname,
      port,
      method: 'POST',
      path,
      headers: { 'Content-Type': 'application/json', 'Content-Length': '1000000' },
    });
    open.push(sent);
    try {
      // A tenth of the body announced, and the request left open: a parser waits for the rest.
      sent.write(`{"pad": "${'x'.repeat(100_000)}`);
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        sent.once('response', resolve).once('error', reject);
      });
      response.resume();
      expect(response.statusCode).toBe(401);
    } finally {
      sent.destroy();
    }
  });

  it('with the token, is answered as without a body, whatever the body: it reads none', async () => {
    const headers = await app.bearer('ash');
    const bodies: { body: string; type: string }[] = [
      { body: '{"token": ', type: 'application/json' },
      { body: JSON.stringify({ pad: 'x'.repeat(200_000) }), type: 'application/json' },
      { body: '{}', type: 'application/json; charset=latin-9' },
    ];
    for (const { body, type } of bodies) {
      const response = await fetch(`${app.url}${path}`, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': type },
        body,
      });
      // Not the parsers' 400 malformed-json, 413 or 415: the stream token, or the cookie.
      expect({ type, status: response.status }).toEqual({
        type,
        status: path === '/api/session' ? 204 : 201,
      });
      if (path === '/api/session')
        expect(response.headers.get('set-cookie')).toMatch(/^causeway_token=/);
      else expect(await response.json()).toMatchObject({ token: expect.any(String) });
    }
  });

  it('still works with the token', async () => {
    const response = await fetch(`${app.url}${path}`, {
      method: 'POST',
      headers: await app.bearer('ash'),
    });
    expect(response.status).toBe(path === '/api/session' ? 204 : 201);
  });
});

/**
 * DELETE /api/session takes no body and no credential: the body parsers read and parsed a body
 * up to their 100 kB first, and a logout that sent one not JSON was answered 400 (413 over 100 kB)
 * with its cookie left set.
 */
describe('DELETE /api/session, which takes no body', () => {
  let app: GatewayTestApp;
  beforeAll(async () => {
    app = await startGatewayTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  const logout = async (headers: Record<string, string>, body?: string) => {
    const response = await fetch(`${app.url}/api/session`, { method: 'DELETE', headers, body });
    return { status: response.status, cookie: response.headers.get('set-cookie') };
  };

  it('clears the cookie as without a body, whatever the body: it reads none', async () => {
    const bodiless = await logout({});
    expect(bodiless).toEqual({ status: 204, cookie: expect.stringMatching(/^causeway_token=;/) });
    const bodies: { body: string; type: string }[] = [
      { body: '{"token": ', type: 'application/json' },
      { body: JSON.stringify({ pad: 'x'.repeat(200_000) }), type: 'application/json' },
      { body: '{}', type: 'application/json; charset=latin-9' },
      { body: 'a=%zz&b', type: 'application/x-www-form-urlencoded' },
    ];
    for (const { body, type } of bodies)
      expect({ type, ...(await logout({ 'Content-Type': type }, body)) }).toEqual({
        type,
        ...bodiless,
      });
  });
});
