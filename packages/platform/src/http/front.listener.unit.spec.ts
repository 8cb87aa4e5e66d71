import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type FrontHandler, putFirst, putInFront } from './front.listener';

/** A server whose own listener (standing in for Express) answers "express", plus `steps`. */
async function serverWith(
  install: (server: Server) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.end('express'));
  install(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A step that notes its name in the `x-steps` header and answers `path` itself. */
function step(name: string, path: string): FrontHandler {
  return (req, res, next) => {
    res.setHeader('x-steps', `${res.getHeader('x-steps') ?? ''}${name};`);
    if (req.url === path) res.end(name);
    else next();
  };
}

async function get(url: string): Promise<{ body: string; steps: string | null }> {
  const response = await fetch(url);
  return { body: await response.text(), steps: response.headers.get('x-steps') };
}

describe('putInFront / putFirst', () => {
  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));
  async function started(install: (server: Server) => void): Promise<string> {
    const { server, url } = await serverWith(install);
    servers.push(server);
    return url;
  }

  it('puts each handler in front of those installed before it', async () => {
    const url = await started((server) => {
      putInFront(server, step('a', '/a'));
      putInFront(server, step('b', '/b'));
    });
    expect(await get(`${url}/a`)).toEqual({ body: 'a', steps: 'b;a;' });
    expect(await get(`${url}/b`)).toEqual({ body: 'b', steps: 'b;' });
    expect(await get(`${url}/other`)).toEqual({ body: 'express', steps: 'b;a;' });
  });

  it('keeps the first step first, whether the others came before or after it', async () => {
    const url = await started((server) => {
      putInFront(server, step('before', '/before'));
      putFirst(server, step('first', '/first'));
      putInFront(server, step('after', '/after'));
      putInFront(server, step('later', '/later'));
    });
    expect(await get(`${url}/first`)).toEqual({ body: 'first', steps: 'first;' });
    expect(await get(`${url}/later`)).toEqual({ body: 'later', steps: 'first;later;' });
    expect(await get(`${url}/after`)).toEqual({ body: 'after', steps: 'first;later;after;' });
    expect(await get(`${url}/before`)).toEqual({
      body: 'before',
      steps: 'first;later;after;before;',
    });
    expect(await get(`${url}/other`)).toEqual({
      body: 'express',
      steps: 'first;later;after;before;',
    });
  });

  it('allows one first step per server', () => {
    const server = createServer();
    putFirst(server, step('one', '/one'));
    expect(() => putFirst(server, step('two', '/two'))).toThrow(/already has a first step/);
  });
});
