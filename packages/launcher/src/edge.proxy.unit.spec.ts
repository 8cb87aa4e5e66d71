import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net, { type AddressInfo } from 'node:net';
import { edgePathKind, edgeUpstreamOf, roundRobin, startEdgeProxy } from './edge.proxy';

/** A tiny upstream that names itself, and streams SSE frames on /events until told to stop. */
async function upstream(
  name: string,
): Promise<{ url: string; server: http.Server; frame(): void }> {
  const streams = new Set<http.ServerResponse>();
  const server = http.createServer((request, response) => {
    if (request.url?.startsWith('/events')) {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(`data: hello from ${name}\n\n`);
      streams.add(response);
      return;
    }
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () =>
      response.writeHead(201, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          name,
          method: request.method,
          url: request.url,
          body,
          cookie: request.headers.cookie,
          forwardedFor: request.headers['x-forwarded-for'],
          forwardedProto: request.headers['x-forwarded-proto'],
          forwardedHost: request.headers['x-forwarded-host'],
          forwarded: request.headers.forwarded,
        }),
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    frame: () => {
      for (const stream of streams) stream.write(`data: live from ${name}\n\n`);
    },
  };
}

/** One request with the request target exactly as given (fetch would normalise it). */
function rawRequest(
  edge: string,
  target: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; type: string | undefined; body: string }> {
  const { hostname, port } = new URL(edge);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: hostname,
        port,
        path: target,
        method: options.method ?? 'GET',
        headers: options.headers,
      },
      (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () =>
          resolve({ status: response.statusCode!, type: response.headers['content-type'], body }),
        );
      },
    );
    request.setTimeout(3_000, () => request.destroy(new Error('no answer from the edge')));
    request.on('error', reject);
    request.end(options.body);
  });
}

/** A server that should never be reached: it records every request it gets. */
async function bystander(): Promise<{ port: number; server: http.Server; hits: string[] }> {
  const hits: string[] = [];
  const server = http.createServer((request, response) => {
    hits.push(`${request.url} cookie=${request.headers.cookie}`);
    response.writeHead(200, { 'content-type': 'text/html' }).end('<script>steal()</script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server, hits };
}

describe('edge proxy', () => {
  const servers: http.Server[] = [];
  const demoDirectories: string[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    for (const directory of demoDirectories.splice(0))
      rmSync(directory, { recursive: true, force: true });
  });

  async function edgeOver(
    commandApi: string[],
    gateways: string[],
    options: { upstreamTimeoutMs?: number; orderProcessor?: string[] } = {},
  ) {
    const demoDirectory = mkdtempSync(path.join(tmpdir(), 'demo-'));
    demoDirectories.push(demoDirectory);
    writeFileSync(path.join(demoDirectory, 'index.html'), '<h1>demo</h1>');
    writeFileSync(path.join(demoDirectory, 'demo.js'), 'void 0;');
    const { orderProcessor = [], ...edgeOptions } = options;
    const edge = await startEdgeProxy(
      { commandApi, gateways, orderProcessor, demoDirectory },
      { port: 0, host: '127.0.0.1', ...edgeOptions },
    );
    servers.push(edge);
    return `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
  }

  it('serves the demo page, sends commands to command-api and streams to gateways', async () => {
    const api = await upstream('api');
    const gateway = await upstream('gw');
    servers.push(api.server, gateway.server);
    const edge = await edgeOver([api.url], [gateway.url]);

    const page = await fetch(`${edge}/`);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toBe('<h1>demo</h1>');

    const command = await fetch(`${edge}/rpc`, { method: 'POST', body: '{"x":1}' });
    expect(command.status).toBe(201);
    expect(await command.json()).toMatchObject({
      name: 'api',
      method: 'POST',
      url: '/rpc',
      body: '{"x":1}',
    });
    const token = (await (await fetch(`${edge}/api/stream-tokens`, { method: 'POST' })).json()) as {
      name: string;
    };
    expect(token.name).toBe('gw');

    const stream = await fetch(`${edge}/events?token=t`);
    const reader = stream.body!.getReader();
    const read = async () => new TextDecoder().decode((await reader.read()).value);
    expect(await read()).toBe('data: hello from gw\n\n');
    gateway.frame(); // a frame written later passes through at once, unbuffered
    expect(await read()).toBe('data: live from gw\n\n');
    await reader.cancel();
  });

  it('answers HEAD of the demo page and its script as GET, without the body, forwarding nothing', async () => {
    const api = await bystander();
    servers.push(api.server);
    const edge = await edgeOver([`http://127.0.0.1:${api.port}`], []);
    for (const [target, type, size] of [
      ['/', 'text/html; charset=utf-8', '<h1>demo</h1>'.length],
      ['/index.html', 'text/html; charset=utf-8', '<h1>demo</h1>'.length],
      ['/demo.js', 'text/javascript; charset=utf-8', 'void 0;'.length],
    ] as const) {
      const head = await fetch(`${edge}${target}`, { method: 'HEAD' });
      expect({ target, status: head.status, type: head.headers.get('content-type') }).toEqual({
        target,
        status: 200,
        type,
      });
      expect(head.headers.get('content-length')).toBe(String(size));
      expect(await head.text()).toBe('');
    }
    expect(api.hits).toEqual([]);
  });

  it('says which demo file it cannot read, as problem details, instead of a bare 404', async () => {
    const api = await bystander();
    servers.push(api.server);
    const edge = await edgeOver([`http://127.0.0.1:${api.port}`], []);
    rmSync(path.join(demoDirectories.at(-1)!, 'demo.js'));
    const answer = await fetch(`${edge}/demo.js`);
    expect(answer.status).toBe(500);
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    expect(answer.headers.get('retry-after')).toBeNull(); // asking again will not help
    expect(await answer.json()).toEqual({
      type: 'https://causeway.dev/problems/edge-demo-unavailable',
      title: 'Internal Server Error',
      status: 500,
      detail: "the demo page's demo.js cannot be read (ENOENT)",
      instance: '/demo.js',
    });
    expect((await fetch(`${edge}/`)).status).toBe(200); // the others still served
    expect(api.hits).toEqual([]);
  });

  it('sends orders to command-api, progress streams to gateways and progress reads to order-processor', async () => {
    const api = await upstream('api');
    const gateway = await upstream('gw');
    const orders = await upstream('orders');
    servers.push(api.server, gateway.server, orders.server);
    const edge = await edgeOver([api.url], [gateway.url], { orderProcessor: [orders.url] });
    const servedBy = async (method: string, target: string) =>
      JSON.parse(
        (await rawRequest(edge, target, { method, body: method === 'POST' ? '{}' : undefined }))
          .body,
      ).name as string;

    expect(await servedBy('POST', '/api/v2/progress/orders')).toBe('api');
    // Spelled as the apps still route it: case, a trailing slash.
    expect(await servedBy('POST', '/API/v2/Progress/orders/')).toBe('api');
    expect(await servedBy('GET', '/api/v2/progress/subscribe')).toBe('gw');
    expect(await servedBy('GET', '/api/v2/progress/subscribe/task-1')).toBe('gw');
    expect(await servedBy('GET', '/api/v2/progress/status/task-1')).toBe('orders');
    expect(await servedBy('GET', '/api/v2/progress/history/task-1?limit=5')).toBe('orders');
    expect(await servedBy('GET', '/api/v2/progress/user/ash')).toBe('orders');
    expect(await servedBy('GET', '/api/v2/progress/monitor')).toBe('orders');
    // Not the order endpoint: another method, or a path below it.
    expect(await servedBy('GET', '/api/v2/progress/orders')).toBe('orders');
    expect(await servedBy('POST', '/api/v2/progress/orders/x')).toBe('orders');
    // The trainer flow is routed as before.
    expect(await servedBy('POST', '/rpc')).toBe('api');
    expect(await servedBy('POST', '/api/stream-tokens')).toBe('gw');
    expect(await servedBy('POST', '/API/Stream-Tokens')).toBe('gw');
  });

  it.each([
    ['POST', '/api/v2/progress/orders', 'commandApi'],
    ['POST', '/api/v2/progress/%6Frders', 'commandApi'],
    ['GET', '/api/v2/progress/subscribe/t', 'gateways'],
    ['GET', '/api/v2/progress//subscribe', 'gateways'],
    ['GET', '/api/v2/progress/monitor', 'orderProcessor'],
    ['GET', '/api/v2/progress', 'orderProcessor'],
    ['GET', '/api/v2/progressive', 'commandApi'],
    ['GET', '/events', 'gateways'],
    // The gateway's own paths, spelled as the gateway still routes them (case, trailing slash).
    ['GET', '/Events', 'gateways'],
    ['GET', '/EVENTS/', 'gateways'],
    ['POST', '/API/Stream-Tokens', 'gateways'],
    ['DELETE', '/api/Session', 'gateways'],
    ['GET', '/Api/Positions/', 'gateways'],
    ['GET', '/API/presence', 'gateways'],
    ['GET', '/eventsource', 'commandApi'],
    ['GET', '/api/positions-old', 'commandApi'],
    ['PUT', '/api/trainers/ash/groups/g', 'commandApi'],
  ])('edgeUpstreamOf(%s %s) is %s', (method, pathname, pool) => {
    expect(edgeUpstreamOf(method, pathname)).toBe(pool);
  });

  it("answers 404 for the apps' metrics, health and admin paths, however spelled, and forwards nothing", async () => {
    const app = await bystander();
    servers.push(app.server);
    const url = `http://127.0.0.1:${app.port}`;
    const edge = await edgeOver([url], [url]);
    for (const target of [
      '/metrics',
      '/metrics?x=1',
      '/METRICS',
      '/metrics/',
      '/metrics//x',
      '/%6Detrics',
      '/admin/dead-letters',
      '/admin/commands/abc',
      '/Admin/Dead-Letters/stats',
      '/admin',
      '/health',
      '/health/ready',
      '/Health/Live/',
      '/api/presence/ash/disconnect',
      '/api//presence/ash/disconnect',
      // A user id that decodes to what ends a path elsewhere (a query, a fragment).
      '/api/presence/a%3F/disconnect',
      '/api/presence/a%23/DISCONNECT/',
      '/API/Presence/%2E%2E%2F%2E%2E%2Fx/DISCONNECT/',
      '/admin/commands/%2E%2E%2F%2E%2E%2Fx',
    ]) {
      const answer = await rawRequest(edge, target);
      expect({ target, status: answer.status }).toEqual({ target, status: 404 });
      expect(JSON.parse(answer.body)).toMatchObject({
        type: 'https://causeway.dev/problems/edge-not-public',
        status: 404,
      });
    }
    // The path is the problem's instance, as in the apps' answers; never the query.
    const secret = await rawRequest(edge, '/metrics?token=s3cret-s3cret');
    expect(JSON.parse(secret.body)).toMatchObject({ instance: '/metrics' });
    expect(secret.body).not.toContain('s3cret');
    expect(app.hits).toEqual([]);
    // Paths that only look alike still pass.
    const alike = ['/metricsx', '/api/admin-notes', '/rpc', '/healthz', '/api/presence'];
    for (const target of alike) await rawRequest(edge, target);
    expect(app.hits.map((hit) => hit.split(' ')[0])).toEqual(alike);
    expect(edgePathKind('/%E0%A4%A')).toBe('public');
  });

  it('refuses dot segments, encoded or not, with 400, forwarding nothing', async () => {
    const app = await bystander();
    servers.push(app.server);
    const url = `http://127.0.0.1:${app.port}`;
    const edge = await edgeOver([url], [url]);
    for (const target of [
      '/./metrics',
      '/events/../metrics',
      '/api/presence/ash%2Fx/../ash/Disconnect',
      '/rpc/%2e%2e',
      '/api/trainers/./move',
    ]) {
      const answer = await rawRequest(edge, target);
      expect({ target, status: answer.status }).toEqual({ target, status: 400 });
      expect(JSON.parse(answer.body)).toMatchObject({
        type: 'https://causeway.dev/problems/edge-bad-target',
        detail: expect.stringContaining('dot segments'),
        instance: target,
      });
    }
    expect(app.hits).toEqual([]);
  });

  it('spreads requests over the gateways and skips one that does not answer', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    servers.push(a.server, b.server);
    const dead = 'http://127.0.0.1:9'; // discard port: connection refused
    const edge = await edgeOver([a.url], [a.url, dead, b.url]);
    const names: string[] = [];
    for (let i = 0; i < 6; i++)
      names.push(((await (await fetch(`${edge}/api/presence`)).json()) as { name: string }).name);
    expect(new Set(names)).toEqual(new Set(['a', 'b']));
  });

  it('gives each page its turn of the gateways, however many command requests come between', async () => {
    // Each demo page makes the same requests before /events: command requests between the
    // gateway requests must not move every page's stream onto the same gateway.
    const api = await upstream('api');
    const one = await upstream('gw-1');
    const two = await upstream('gw-2');
    servers.push(api.server, one.server, two.server);
    const edge = await edgeOver([api.url, api.url], [one.url, two.url]);
    const gatewaysHit: string[] = [];
    for (let page = 0; page < 4; page++) {
      await (await fetch(`${edge}/api/dev/tokens`, { method: 'POST', body: '{}' })).text();
      const session = (await (await fetch(`${edge}/api/session`)).json()) as { name: string };
      gatewaysHit.push(session.name);
    }
    expect(gatewaysHit).toEqual(['gw-1', 'gw-2', 'gw-1', 'gw-2']);
  });

  it('answers 502 problem details when no instance answers', async () => {
    const edge = await edgeOver(['http://127.0.0.1:9'], ['http://127.0.0.1:9']);
    const response = await fetch(`${edge}/rpc`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toEqual({
      type: 'https://causeway.dev/problems/edge-no-instance',
      title: 'Bad Gateway',
      status: 502,
      detail: 'no command-api instance answered',
      instance: '/rpc',
    });
    // Each path names the app behind it: which one to look at.
    const stream = await fetch(`${edge}/events`);
    expect(stream.status).toBe(502);
    expect(await stream.json()).toMatchObject({ detail: 'no sse-gateway instance answered' });
    const edgeToReads = await edgeOver([], [], { orderProcessor: ['http://127.0.0.1:9'] });
    const read = await fetch(`${edgeToReads}/api/v2/progress/monitor`);
    expect(read.status).toBe(502);
    expect(await read.json()).toMatchObject({ detail: 'no order-processor instance answered' });
  });

  it('answers a request node:http cannot parse with problem details, as the apps do: 431, 400', async () => {
    const edge = await edgeOver(['http://127.0.0.1:9'], ['http://127.0.0.1:9']);
    const exchange = (raw: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(new URL(edge).port), '127.0.0.1', () =>
          socket.write(raw),
        );
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.on('end', () => resolve(answer));
        socket.on('error', reject);
      });
    const problemOf = (answer: string) => {
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      return { head, body: JSON.parse(body) as Record<string, unknown> };
    };

    const huge = problemOf(
      await exchange(`GET / HTTP/1.1\r\nHost: edge\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
    );
    expect(huge.head).toMatch(/^HTTP\/1\.1 431 /);
    expect(huge.head.toLowerCase()).toContain('content-type: application/problem+json');
    expect(huge.body).toMatchObject({
      type: 'about:blank',
      status: 431,
      title: 'Request Header Fields Too Large',
    });
    const malformed = problemOf(await exchange('GET / HTTP/1.1\r\nBad Header\r\n\r\n'));
    expect(malformed.head).toMatch(/^HTTP\/1\.1 400 /);
    expect(malformed.body).toMatchObject({
      type: 'about:blank',
      status: 400,
      title: 'Bad Request',
    });
  });

  describe('request targets', () => {
    it('never sends a //host/... path to the host it names, nor the session cookie', async () => {
      const api = await upstream('api');
      const gateway = await upstream('gw');
      const evil = await bystander();
      servers.push(api.server, gateway.server, evil.server);
      const edge = await edgeOver([api.url], [gateway.url]);

      const answers = [];
      for (const target of [
        `//127.0.0.1:${evil.port}/steal`,
        `//127.0.0.1:${evil.port}/events`,
        `/\\127.0.0.1:${evil.port}/steal`,
      ])
        answers.push(
          await rawRequest(edge, target, { headers: { cookie: 'causeway_token=secret' } }),
        );
      expect(evil.hits).toEqual([]);
      for (const answer of answers) {
        expect(answer.status).toBe(400);
        expect(answer.type).toBe('application/problem+json');
        expect(JSON.parse(answer.body)).toMatchObject({
          type: 'https://causeway.dev/problems/edge-bad-target',
          status: 400,
          title: 'Bad Request',
        });
      }
    });

    it('answers 400 to an absolute-form or asterisk target instead of fetching it', async () => {
      const api = await upstream('api');
      const evil = await bystander();
      servers.push(api.server, evil.server);
      const edge = await edgeOver([api.url], [api.url]);

      const answers = [];
      for (const target of [`http://127.0.0.1:${evil.port}/health/ready`, '*'])
        answers.push(
          await rawRequest(edge, target, {
            method: target === '*' ? 'OPTIONS' : 'GET',
            headers: { cookie: 'causeway_token=secret' },
          }),
        );
      expect(evil.hits).toEqual([]);
      for (const answer of answers) {
        expect(answer.status).toBe(400);
        expect(answer.type).toBe('application/problem+json');
      }
    });

    it('names the request target as sent in every 400, without its query or credentials, clipped', async () => {
      const api = await upstream('api');
      servers.push(api.server);
      const edge = await edgeOver([api.url], [api.url]);
      const long = `/${'a'.repeat(400)}`;

      const sent: [target: string, method: string, instance: string][] = [
        // Its path alone (`/x`) named a target the edge takes: the client could not see why.
        ['http://example.com/x', 'GET', 'http://example.com/x'],
        ['//example.com/x', 'GET', '//example.com/x'],
        ['*', 'OPTIONS', '*'],
        // A user and password, or a query (a token), are not repeated.
        ['http://ash:pw@example.com/x?token=t', 'GET', 'http://example.com/x'],
        ['//ash:pw@example.com/x?token=t', 'GET', '//example.com/x'],
        [`http://example.com${long}`, 'GET', `http://example.com${long}`.slice(0, 256) + '…'],
      ];
      for (const [target, method, instance] of sent) {
        const answer = await rawRequest(edge, target, { method });
        expect([target, answer.status, JSON.parse(answer.body)]).toEqual([
          target,
          400,
          expect.objectContaining({
            type: 'https://causeway.dev/problems/edge-bad-target',
            instance,
          }),
        ]);
      }
    });

    it('forwards path and query exactly as sent to the configured backend', async () => {
      const api = await upstream('api');
      servers.push(api.server);
      const edge = await edgeOver([api.url], [api.url]);
      const answer = await rawRequest(edge, '/api/trainers/a%2Fb?x=1&y=%2F%2Fz', {
        method: 'POST',
        headers: { cookie: 'causeway_token=mine' },
        body: 'hi',
      });
      expect(answer.status).toBe(201);
      expect(JSON.parse(answer.body)).toMatchObject({
        name: 'api',
        url: '/api/trainers/a%2Fb?x=1&y=%2F%2Fz',
        body: 'hi',
        cookie: 'causeway_token=mine',
      });
    });
  });

  describe('a backend that does not answer', () => {
    /** Accepts connections and requests but never answers (like a backend under kill -STOP). */
    async function silent(): Promise<{ url: string; server: http.Server }> {
      const server = http.createServer(() => undefined);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
    }

    it('gets the client a 504 problem once the upstream timeout has passed', async () => {
      const hung = await silent();
      servers.push(hung.server);
      const edge = await edgeOver([hung.url], [hung.url], { upstreamTimeoutMs: 300 });
      const started = Date.now();
      const answer = await fetch(`${edge}/rpc`, {
        method: 'POST',
        body: '{}',
        signal: AbortSignal.timeout(3_000),
      });
      expect(answer.status).toBe(504);
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(await answer.json()).toMatchObject({
        type: 'https://causeway.dev/problems/edge-timeout',
        status: 504,
        title: 'Gateway Timeout',
        detail: 'command-api sent no answer within 300 ms',
      });
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('keeps an SSE stream open past the timeout once its headers arrived', async () => {
      const gateway = await upstream('gw');
      servers.push(gateway.server);
      const edge = await edgeOver([gateway.url], [gateway.url], { upstreamTimeoutMs: 200 });
      const stream = await fetch(`${edge}/events?token=t`);
      const reader = stream.body!.getReader();
      const read = async () => new TextDecoder().decode((await reader.read()).value);
      expect(await read()).toBe('data: hello from gw\n\n');
      await new Promise((resolve) => setTimeout(resolve, 600)); // quiet for 3 timeouts
      gateway.frame();
      expect(await read()).toBe('data: live from gw\n\n');
      await reader.cancel();
    });
  });

  describe('request bodies', () => {
    /** A backend that hands each request to `handle`. */
    async function backendWith(
      handle: (request: http.IncomingMessage, response: http.ServerResponse) => void,
    ): Promise<string> {
      const server = http.createServer(handle);
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }

    /**
     * A backend that reads each body to its end and answers 204; `aborted` resolves once a
     * request closes before its body was complete (the edge aborted it).
     */
    async function bodyReader(): Promise<{ url: string; aborted: Promise<void> }> {
      let upstreamAborted = () => undefined as void;
      const aborted = new Promise<void>((resolve) => (upstreamAborted = resolve));
      const url = await backendWith((request, response) => {
        request.on('close', () => {
          if (!request.complete) upstreamAborted();
        });
        request.on('end', () => response.writeHead(204).end());
        request.resume();
      });
      return { url, aborted };
    }

    /** A POST to the edge whose body the test writes piece by piece. */
    function upload(edge: string, headers: Record<string, string> = {}) {
      const { hostname, port } = new URL(edge);
      const client = http.request({
        host: hostname,
        port,
        path: '/upload',
        method: 'POST',
        headers,
      });
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        client.on('response', (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode!, body }));
        });
        client.on('error', reject);
      });
      return { client, answer };
    }

    it('streams a body to the backend while the client is still sending it', async () => {
      let firstBytes = (_: string) => undefined as void;
      const arrived = new Promise<string>((resolve) => (firstBytes = resolve));
      const url = await backendWith((request, response) => {
        request.once('data', (chunk: Buffer) => firstBytes(chunk.toString()));
        request.on('end', () => response.writeHead(204).end());
        request.resume();
      });
      const edge = await edgeOver([url], [url]);

      const { client, answer } = upload(edge); // chunked: no length, no end in sight
      client.write('first part;');
      let timer: NodeJS.Timeout | undefined;
      const seen = await Promise.race([
        arrived,
        new Promise<string>((resolve) => (timer = setTimeout(() => resolve('(nothing)'), 1_500))),
      ]);
      clearTimeout(timer);
      client.end('last part');
      expect(seen).toBe('first part;');
      expect((await answer).status).toBe(204);
    });

    it('passes on the answer of a backend that refuses a body early, then closes the connection', async () => {
      const url = await backendWith((_request, response) => {
        response
          .writeHead(413, { 'content-type': 'application/problem+json' })
          .end('{"status":413}');
      });
      const edge = await edgeOver([url], [url]);

      const { client, answer } = upload(edge, { 'content-length': String(64 * 1024 * 1024) });
      const piece = Buffer.alloc(1024 * 1024);
      let sent = 0;
      const send = () => {
        while (sent < 64 && client.write(piece)) sent++;
        if (sent < 64) client.once('drain', () => (sent++, send()));
        else client.end();
      };
      const closed = new Promise((resolve) => client.once('close', resolve));
      client.on('error', () => undefined); // the edge closes while the rest is on its way
      send();
      expect(await answer).toEqual({ status: 413, body: '{"status":413}' });
      const answered = Date.now();
      await closed; // at once, not left hanging with the rest of the body unread
      expect(Date.now() - answered).toBeLessThan(1_000);
      expect(sent).toBeLessThan(64);
    });

    it('passes on the answer of a backend that answers early and then resets the connection', async () => {
      // What command-api did with a body far over its limit: 413, then the request destroyed
      // (a TCP reset, which can fail the edge's write of the body before the answer is read).
      const url = await backendWith((request, response) => {
        let size = 0;
        request.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > 1024 * 1024 && !response.headersSent) {
            request.removeAllListeners('data');
            response
              .writeHead(413, { 'content-type': 'application/problem+json' })
              .end('{"status":413}');
            request.destroy();
          }
        });
      });
      const edge = await edgeOver([url], [url]);

      for (let i = 0; i < 5; i++) {
        const { client, answer } = upload(edge, { 'content-length': String(3_000_000) });
        client.on('error', () => undefined); // the edge closes while the rest is on its way
        client.end(Buffer.alloc(3_000_000, 97));
        expect(await answer).toEqual({ status: 413, body: '{"status":413}' });
      }
    });

    it('answers 502 when a backend resets the connection mid-body without answering', async () => {
      const url = await backendWith((request) => {
        let size = 0;
        request.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > 1024 * 1024) request.destroy();
        });
      });
      const edge = await edgeOver([url], [url]);

      const { client, answer } = upload(edge, { 'content-length': String(3_000_000) });
      client.on('error', () => undefined);
      client.end(Buffer.alloc(3_000_000, 97));
      expect(await answer).toMatchObject({ status: 502 });
      expect(JSON.parse((await answer).body)).toMatchObject({
        type: 'https://causeway.dev/problems/edge-no-instance',
        detail: 'the command-api instance dropped the request',
      });
    });

    it('sends a POST body to the next instance when one refuses the connection', async () => {
      const b = await upstream('b');
      servers.push(b.server);
      const edge = await edgeOver([b.url], ['http://127.0.0.1:9', b.url]);
      for (let i = 0; i < 4; i++) {
        const answer = await fetch(`${edge}/api/session`, { method: 'POST', body: `body ${i}` });
        expect(await answer.json()).toMatchObject({ name: 'b', body: `body ${i}` });
      }
    });

    it('answers 408 naming the client, not 504 blaming the app, when the client stops sending its body', async () => {
      const { url, aborted } = await bodyReader();
      const edge = await edgeOver([url], [url], { upstreamTimeoutMs: 300 });

      const { client, answer } = upload(edge, { 'content-length': '1000' });
      client.on('error', () => undefined);
      client.write('x'.repeat(100)); // and then nothing: the app waits for the rest
      const { status, body } = await answer;
      expect(status).toBe(408);
      expect(JSON.parse(body)).toMatchObject({
        type: 'https://causeway.dev/problems/edge-request-timeout',
        status: 408,
        title: 'Request Timeout',
        detail: 'the request body stopped arriving: nothing came for 300 ms',
      });
      await aborted; // the app does not wait for a body that will not come
      client.destroy();
    });

    it('still answers 504 naming the app when the app stops reading the body', async () => {
      const url = await backendWith((request) => request.pause()); // takes nothing, answers nothing
      const edge = await edgeOver([url], [url], { upstreamTimeoutMs: 300 });

      const size = 64 * 1024 * 1024; // more than the sockets between them buffer
      const { client, answer } = upload(edge, { 'content-length': String(size + 1) });
      client.on('error', () => undefined);
      client.write(Buffer.alloc(size, 97)); // never the last byte
      const { status, body } = await answer;
      expect(status).toBe(504);
      expect(JSON.parse(body)).toMatchObject({
        type: 'https://causeway.dev/problems/edge-timeout',
        detail: 'command-api sent no answer within 300 ms',
      });
      client.destroy();
    });

    it('aborts the upstream request when the client aborts mid-body, and keeps serving', async () => {
      const { url, aborted } = await bodyReader();
      const edge = await edgeOver([url], [url]);

      const { client, answer } = upload(edge, { 'content-length': '1000000' });
      answer.catch(() => undefined);
      client.write('x'.repeat(1000));
      await new Promise((resolve) => setTimeout(resolve, 100));
      client.destroy();
      await aborted;

      const after = await fetch(`${edge}/rpc`, { method: 'POST', body: 'next' });
      expect(after.status).toBe(204);
    });
  });

  // An app's graceful stop closes its idle keep-alive connections; the edge may have taken one of
  // them from its pool for the next request in the same instant. This app does it every time: a
  // request on a connection that already served one is read, then the connection is reset.
  describe('a kept-alive connection the app closes as the next request arrives', () => {
    async function closingApp(
      options: { stopListening?: boolean } = {},
    ): Promise<{ url: string; seen: string[] }> {
      const seen: string[] = [];
      const used = new WeakSet<object>();
      const server = http.createServer((request, response) => {
        if (used.has(request.socket)) {
          seen.push(`${request.method} dropped`);
          // Stopping for good: new connections are refused from now on.
          if (options.stopListening) server.close();
          request.socket.resetAndDestroy();
          return;
        }
        used.add(request.socket);
        request.resume();
        request.on('end', () => {
          seen.push(`${request.method} answered`);
          response.writeHead(200, { 'content-type': 'text/plain' }).end(`${request.method} ok`);
        });
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
    }

    it('sends a GET, HEAD or OPTIONS once more on a fresh connection instead of answering 502', async () => {
      const app = await closingApp();
      const edge = await edgeOver([app.url], []);
      for (const method of ['GET', 'HEAD', 'OPTIONS']) {
        // The first request leaves a kept-alive connection in the edge's pool; the second gets it.
        expect(await rawRequest(edge, '/api/trainers', { method })).toMatchObject({ status: 200 });
        const again = await rawRequest(edge, '/api/trainers', { method });
        expect(again).toMatchObject({ status: 200, body: method === 'HEAD' ? '' : `${method} ok` });
      }
      expect(app.seen).toContain('GET dropped');
    });

    it('sends the GET to the next instance when the stopping one no longer takes connections', async () => {
      const stopping = await closingApp({ stopListening: true });
      const other = await upstream('other');
      servers.push(other.server);
      // Two instances: round robin gives the stopping one the 1st and 3rd requests.
      const edge = await edgeOver([stopping.url, other.url], []);
      expect(await rawRequest(edge, '/api/trainers')).toMatchObject({ status: 200 });
      expect(await rawRequest(edge, '/api/trainers')).toMatchObject({ status: 201 });
      const third = await rawRequest(edge, '/api/trainers');
      expect(third.status).toBe(201);
      expect(JSON.parse(third.body)).toMatchObject({ name: 'other', url: '/api/trainers' });
      expect(stopping.seen).toEqual(['GET answered', 'GET dropped']);
    });

    it('never sends a POST twice: 502, and the app saw it once', async () => {
      const app = await closingApp();
      const edge = await edgeOver([app.url], []);
      expect(await rawRequest(edge, '/rpc', { method: 'POST', body: '{}' })).toMatchObject({
        status: 200,
      });
      const second = await rawRequest(edge, '/rpc', { method: 'POST', body: '{"n":2}' });
      expect(second.status).toBe(502);
      expect(JSON.parse(second.body)).toMatchObject({
        detail: 'the command-api instance dropped the request',
      });
      expect(app.seen).toEqual(['POST answered', 'POST dropped']);
    });
  });

  it("answers an HTTP/1.0 client a chunked answer's body as it is, not in chunks it cannot read", async () => {
    // The app answers chunked (no length); HTTP/1.0 has no chunked coding (RFC 9112 §6.1): the
    // edge must send the body as is and close, not copy the app's Transfer-Encoding.
    const app = http.createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('first;');
      setTimeout(() => response.end('second'), 20);
    });
    servers.push(app);
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const edge = await edgeOver([url], [url]);
    const exchange = (version: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(new URL(edge).port), '127.0.0.1', () =>
          socket.write(`GET /api/x HTTP/${version}\r\nHost: edge\r\nConnection: close\r\n\r\n`),
        );
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.on('end', () => resolve(answer));
        socket.on('error', reject);
        socket.setTimeout(3_000, () => socket.destroy(new Error('no end of the answer')));
      });

    const split = (answer: string) => {
      const end = answer.indexOf('\r\n\r\n');
      return [answer.slice(0, end), answer.slice(end + 4)];
    };
    const [oldHead = '', oldBody] = split(await exchange('1.0'));
    expect(oldHead).toMatch(/^HTTP\/1\.1 200 /);
    expect(oldHead.toLowerCase()).not.toContain('transfer-encoding');
    expect(oldBody).toBe('first;second');
    // An HTTP/1.1 client still gets it streamed in chunks.
    const [head = '', body] = split(await exchange('1.1'));
    expect(head.toLowerCase()).toContain('transfer-encoding: chunked');
    expect(body).toBe('6\r\nfirst;\r\n6\r\nsecond\r\n0\r\n\r\n');
  });

  it("passes on command-api's OpenAPI document without the paths it refuses, GET and HEAD alike", async () => {
    const document = JSON.stringify({
      paths: { '/rpc': {}, '/admin/commands/{commandId}': {}, '/health/ready': {} },
    });
    const api = http.createServer((request, response) => {
      if (request.url === '/docs-json')
        response
          .writeHead(200, { 'content-type': 'application/json', etag: 'W/"whole"' })
          .end(document);
      else response.writeHead(404, { 'content-type': 'application/json' }).end(document);
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    servers.push(api);
    const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    const edge = await edgeOver([apiUrl], [apiUrl]);

    const got = await fetch(`${edge}/docs-json`);
    const body = await got.text();
    expect(JSON.parse(body)).toEqual({ paths: { '/rpc': {} } });
    expect(got.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    // The app's ETag names its whole document, not this one.
    expect(got.headers.get('etag')).toBeNull();
    const head = await fetch(`${edge}/docs-json`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, null]);
    // Any other answer, and any other path, is passed on as it came.
    expect(JSON.parse(await (await fetch(`${edge}/docs-json?x`)).text())).toEqual(
      JSON.parse(document),
    );
    expect(JSON.parse(await (await fetch(`${edge}/api/docs-json`)).text())).toEqual(
      JSON.parse(document),
    );
  });

  describe('X-Forwarded-For', () => {
    it('appends the client address to the chain the client sent', async () => {
      const api = await upstream('api');
      servers.push(api.server);
      const edge = await edgeOver([api.url], [api.url]);

      const plain = await rawRequest(edge, '/rpc', { method: 'POST' });
      expect(JSON.parse(plain.body)).toMatchObject({ forwardedFor: '127.0.0.1' });
      const chained = await rawRequest(edge, '/rpc', {
        method: 'POST',
        headers: { 'x-forwarded-for': '203.0.113.7, 198.51.100.2' },
      });
      expect(JSON.parse(chained.body)).toMatchObject({
        forwardedFor: '203.0.113.7, 198.51.100.2, 127.0.0.1',
      });
    });

    it("says the edge's own scheme, whatever the client claims, and drops the client's host claims", async () => {
      const api = await upstream('api');
      servers.push(api.server);
      const edge = await edgeOver([api.url], [api.url]);
      // The apps trust the edge's X-Forwarded-*: a client's "https" would get Secure cookies.
      const answer = await rawRequest(edge, '/api/session', {
        method: 'POST',
        headers: {
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'evil.example',
          forwarded: 'proto=https;host=evil.example',
        },
      });
      const seen = JSON.parse(answer.body) as Record<string, unknown>;
      expect(seen.forwardedProto).toBe('http');
      expect(seen.forwardedHost).toBeUndefined();
      expect(seen.forwarded).toBeUndefined();
    });
  });
});

describe('roundRobin', () => {
  it('starts one further each call and offers the rest as fallbacks, per pool', () => {
    const gateways = roundRobin(['g1', 'g2', 'g3']);
    const commandApi = roundRobin(['c1', 'c2']);
    expect(gateways()).toEqual(['g1', 'g2', 'g3']);
    expect(commandApi()).toEqual(['c1', 'c2']);
    expect(commandApi()).toEqual(['c2', 'c1']);
    expect(gateways()).toEqual(['g2', 'g3', 'g1']);
    expect(gateways()).toEqual(['g3', 'g1', 'g2']);
    expect(gateways()).toEqual(['g1', 'g2', 'g3']);
    expect(roundRobin([])()).toEqual([]);
  });
});
