import { request as httpRequest } from 'node:http';
import { type GatewayTestApp, startGatewayTestApp } from '../testing/gateway.test-app';

/**
 * The gateway's GETs take no body: one sent anyway (a stray Content-Type: application/json and a
 * body that is not JSON) was parsed before the credential was looked at, and a caller without
 * one was answered 400 malformed-json instead of the 401 it gets without a body.
 */
describe.each([
  '/events',
  '/api/positions',
  '/api/presence',
  '/api/v2/progress/subscribe',
  '/api/v2/progress/subscribe/t-1',
])('GET %s with a body', (path) => {
  let app: GatewayTestApp;
  beforeAll(async () => {
    app = await startGatewayTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  /** fetch sends no body with a GET: node:http does. */
  const get = (headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; type: unknown }>((resolve, reject) => {
      const { hostname, port } = new URL(app.url);
      const sent = httpRequest({
        host: hostname,
        port,
        method: 'GET',
        path,
        // Node frames a GET's body only when told its length.
        headers: { ...headers, ...(body && { 'Content-Length': String(Buffer.byteLength(body)) }) },
      });
      sent.once('error', reject).once('response', (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.once('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            type: text ? (JSON.parse(text) as { type?: unknown }).type : undefined,
          }),
        );
      });
      sent.end(body);
    });

  it('without a credential, is answered the 401 it gets without a body', async () => {
    const bodiless = await get({});
    expect(bodiless).toEqual({
      status: 401,
      type: 'https://causeway.dev/problems/unauthenticated',
    });
    for (const body of ['{"a": ', JSON.stringify({ pad: 'x'.repeat(200_000) })]) {
      const answer = await get({ 'Content-Type': 'application/json' }, body);
      expect({ size: body.length, ...answer }).toEqual({ size: body.length, ...bodiless });
    }
  });
});
