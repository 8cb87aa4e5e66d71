import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type AddressInfo } from 'node:net';
import { startEdgeProxy } from './edge.proxy';

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
      response
        .writeHead(201, { 'content-type': 'application/json' })
        .end(JSON.stringify({ name, method: request.method, url: request.url, body })),
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

describe('edge proxy', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  async function edgeOver(commandApi: string[], gateways: string[]) {
    const demoDirectory = mkdtempSync(path.join(tmpdir(), 'demo-'));
    writeFileSync(path.join(demoDirectory, 'index.html'), '<h1>demo</h1>');
    writeFileSync(path.join(demoDirectory, 'demo.js'), 'void 0;');
    const edge = await startEdgeProxy(
      { commandApi, gateways, demoDirectory },
      { port: 0, host: '127.0.0.1' },
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
    expect(await command.json()).toEqual({
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

  it('answers 502 problem details when no instance answers', async () => {
    const edge = await edgeOver(['http://127.0.0.1:9'], ['http://127.0.0.1:9']);
    const response = await fetch(`${edge}/rpc`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });
});
