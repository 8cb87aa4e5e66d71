import { createServer, type AddressInfo, type Server } from 'node:net';
import { busyPorts, busyPortsMessage, listenerOwnedBy, listenerPid } from './port.check';

async function listening(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
const portOf = (server: Server) => (server.address() as AddressInfo).port;

describe('the port check', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  });

  it('names the ports taken, and only those', async () => {
    const taken = await listening();
    const free = await listening();
    servers.push(taken);
    const freePort = portOf(free);
    await new Promise((resolve) => free.close(resolve));

    const busy = await busyPorts([
      { port: freePort, host: '127.0.0.1', owner: 'command-api-1' },
      { port: portOf(taken), host: '127.0.0.1', owner: 'edge proxy' },
    ]);
    expect(busy).toEqual([
      { port: portOf(taken), host: '127.0.0.1', owner: 'edge proxy', reason: 'EADDRINUSE' },
    ]);
  });

  it('counts a port planned twice as taken', async () => {
    const free = await listening();
    const port = portOf(free);
    await new Promise((resolve) => free.close(resolve));
    const busy = await busyPorts([
      { port, host: '127.0.0.1', owner: 'command-api-1' },
      { port, host: '127.0.0.1', owner: 'edge proxy' },
    ]);
    expect(busy).toEqual([
      {
        port,
        host: '127.0.0.1',
        owner: 'edge proxy',
        reason: 'planned for command-api-1 too',
        alsoPlannedFor: 'command-api-1',
      },
    ]);
  });

  it('says a port planned twice is a clash of the settings, not another Causeway running', async () => {
    const taken = await listening();
    servers.push(taken);
    const free = await listening();
    const port = portOf(free);
    await new Promise((resolve) => free.close(resolve));
    const claims = [
      { port, host: '127.0.0.1', owner: 'command-api-1' },
      { port, host: '127.0.0.1', owner: 'edge proxy' },
    ];
    expect(busyPortsMessage(await busyPorts(claims))).toBe(
      `port planned twice: 127.0.0.1:${port} (edge proxy: planned for command-api-1 too): the ` +
        'settings give it to two owners; choose ports that do not overlap ' +
        '(--port-base / APP_PORT_BASE for the apps, EDGE_PORT for the edge proxy).',
    );
    // With a port another process holds as well: each named with what to do about it.
    const both = busyPortsMessage(
      await busyPorts([
        ...claims,
        { port: portOf(taken), host: '127.0.0.1', owner: 'sse-gateway-1' },
      ]),
    );
    expect(both).toBe(
      `port not free: 127.0.0.1:${portOf(taken)} (sse-gateway-1: EADDRINUSE). Another Causeway ` +
        `may still be running; \`ss -ltnp '( sport = :${portOf(taken)} )'\` shows the process ` +
        'holding it. Stop it, or choose other ports. port planned twice: ' +
        `127.0.0.1:${port} (edge proxy: planned for command-api-1 too): the settings give it to ` +
        'two owners; choose ports that do not overlap ' +
        '(--port-base / APP_PORT_BASE for the apps, EDGE_PORT for the edge proxy).',
    );
  });

  it('says in one message which ports are taken and how to find who holds them', () => {
    expect(
      busyPortsMessage([
        { port: 3000, host: '127.0.0.1', owner: 'command-api-1', reason: 'EADDRINUSE' },
        { port: 8080, host: '127.0.0.1', owner: 'edge proxy', reason: 'EADDRINUSE' },
      ]),
    ).toBe(
      'ports not free: 127.0.0.1:3000 (command-api-1: EADDRINUSE), 127.0.0.1:8080 (edge proxy: ' +
        "EADDRINUSE). Another Causeway may still be running; `ss -ltnp '( sport = :3000 or " +
        "sport = :8080 )'` shows the process holding them. Stop it, or choose other ports " +
        '(--port-base / APP_PORT_BASE for the apps, EDGE_PORT for the edge proxy).',
    );
  });

  it('tells whether a process holds the listener of a port (undefined without /proc)', async () => {
    const server = await listening();
    servers.push(server);
    const linux = process.platform === 'linux';
    expect(listenerOwnedBy(process.pid, portOf(server))).toBe(linux ? true : undefined);
    expect(listenerOwnedBy(process.ppid, portOf(server))).toBe(linux ? false : undefined);
  });

  it('finds the process listening on a port, and none on a free one', async () => {
    const server = await listening();
    const port = portOf(server);
    expect(listenerPid(port)).toBe(process.platform === 'linux' ? process.pid : undefined);
    await new Promise((resolve) => server.close(resolve));
    expect(listenerPid(port)).toBeUndefined();
  });
});
