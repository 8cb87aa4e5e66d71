import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { allowCrossOrigin, corsOriginsSetting, corsPolicy, parseCorsOrigins } from './cors.policy';
import { putInFront } from './front.listener';

describe('CORS_ORIGINS', () => {
  it('is empty when unset or blank: no CORS', () => {
    for (const value of [undefined, '', ' , ']) expect(corsOriginsSetting.parse(value)).toEqual([]);
    expect(corsPolicy([])).toBeUndefined();
  });

  it('reads exact origins, as browsers send them', () => {
    expect(
      parseCorsOrigins(
        ' https://game.example.com, http://127.0.0.1:5500 ,HTTPS://App.Example.com:443,http://[::1]:8080,capacitor://localhost,https://game.example.com',
      ),
    ).toEqual([
      'https://game.example.com',
      'http://127.0.0.1:5500',
      'https://app.example.com',
      'http://[::1]:8080',
      'capacitor://localhost',
    ]);
  });

  it('refuses * and wildcards: credentials are allowed', () => {
    for (const bad of ['*', 'https://a.example.com,*', 'https://*.example.com']) {
      const result = corsOriginsSetting.safeParse(bad);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toMatch(/^wildcards are not accepted, .*: \S*\*/);
    }
  });

  it('refuses anything but scheme://host[:port], naming the entry', () => {
    for (const bad of [
      'game.example.com',
      'https://game.example.com/',
      'https://game.example.com/play',
      'https://game.example.com?x=1',
      'https://game.example.com#top',
      'https://user@game.example.com',
      'https://game.example.com:99999',
      'null',
      'file:///tmp',
      'https://',
    ]) {
      const result = corsOriginsSetting.safeParse(`https://ok.example.com,${bad}`);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toBe(
        `not an origin (scheme://host[:port], without path, e.g. https://app.example.com): ${bad}`,
      );
    }
  });
});

describe('allowCrossOrigin', () => {
  const allowed = 'http://127.0.0.1:5500';
  let server: Server;
  let url: string;
  const reached: string[] = [];

  beforeAll(async () => {
    // Express stands behind: 405 for anything but POST, like command-api's /rpc.
    server = createServer((req, res) => {
      reached.push(`express ${req.method}`);
      res.statusCode = req.method === 'POST' ? 200 : 405;
      if (res.statusCode === 405) res.setHeader('Allow', 'POST');
      res.setHeader('Retry-After', '3');
      res.end('express');
    });
    allowCrossOrigin(server, [allowed, 'https://game.example.com']);
    // A fast path installed after the CORS step, as GET /events is when the app boots.
    putInFront(server, (req, res, next) => {
      if (req.url !== '/fast') return next();
      reached.push('fast');
      res.writeHead(200, { 'Content-Type': 'text/event-stream' }).end('fast');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => (reached.length = 0));

  const preflight = (origin?: string) =>
    fetch(`${url}/rpc`, {
      method: 'OPTIONS',
      headers: {
        ...(origin && { Origin: origin }),
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type,idempotency-key',
      },
    });

  it('answers a preflight from an allowed origin itself: 204 with what may be sent', async () => {
    const response = await preflight(allowed);
    expect(response.status).toBe(204);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      'access-control-allow-origin': allowed,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET,HEAD,POST,PUT,DELETE,OPTIONS',
      'access-control-allow-headers':
        'Authorization,Content-Type,Idempotency-Key,Last-Event-ID,traceparent,tracestate',
      'access-control-max-age': '600',
      'content-length': '0',
      vary: 'Origin',
    });
    expect(reached).toEqual([]);
  });

  it('leaves a preflight from another origin, or without one, as it was', async () => {
    for (const origin of ['http://127.0.0.1:5501', 'https://evil.example.com', undefined]) {
      const response = await preflight(origin);
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
      expect([...response.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual(
        [],
      );
      expect(response.headers.get('vary')).toBeNull();
    }
    expect(reached).toEqual(['express OPTIONS', 'express OPTIONS', 'express OPTIONS']);
  });

  it('marks the answers to an allowed origin, from Express and from a fast path in front of it', async () => {
    for (const [path, method] of [
      ['/rpc', 'POST'],
      ['/rpc', 'GET'],
      ['/fast', 'GET'],
    ] as const) {
      const response = await fetch(`${url}${path}`, { method, headers: { Origin: allowed } });
      expect(Object.fromEntries(response.headers)).toMatchObject({
        'access-control-allow-origin': allowed,
        'access-control-allow-credentials': 'true',
        'access-control-expose-headers': 'Retry-After,Idempotent-Replayed,WWW-Authenticate',
        vary: 'Origin',
      });
      expect(response.headers.get('access-control-allow-methods')).toBeNull();
    }
    expect(reached).toEqual(['express POST', 'express GET', 'fast']);
  });

  it('marks nothing for another origin or none', async () => {
    for (const headers of [{ Origin: 'https://evil.example.com' }, {}] as Record<
      string,
      string
    >[]) {
      const response = await fetch(`${url}/rpc`, { method: 'POST', headers });
      expect(response.status).toBe(200);
      expect([...response.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual(
        [],
      );
      expect(response.headers.get('vary')).toBeNull();
    }
  });

  it('installs nothing without origins', () => {
    const bare = createServer();
    const listeners = bare.listeners('request');
    allowCrossOrigin(bare, []);
    expect(bare.listeners('request')).toEqual(listeners);
  });
});
