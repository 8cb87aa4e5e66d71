import net from 'node:net';

/**
 * A TCP proxy in front of a real server that can stall, as a blackholed network path does: no
 * RST, no FIN, the bytes wait. `stall('all')` stops reading and writing both sides of every
 * connection, and holds new ones the same way (the server is unreachable); `stall('open')` stops
 * only the connections open now and lets new ones through — a peer that vanished, a NAT or load
 * balancer that forgot the connection, while the server itself is fine. `heal` lets everything
 * through again.
 */
export class StallingProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private stalled = false;
  /** Connections accepted so far. */
  accepted = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      this.accepted++;
      const upstream = net.connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => this.sockets.delete(socket));
      }
      client.pipe(upstream);
      upstream.pipe(client);
      // After pipe(), which resumes a paused source: paused before, a connection made during a
      // stall flowed (a projection-worker test caught it reconnecting through a "stalled" path).
      if (this.stalled) for (const socket of [client, upstream]) socket.pause();
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  /**
   * A proxy listening on a free port in front of the server `serverUrl` names (redis://,
   * mongodb://…; `defaultPort` when it names none), and the same URL pointed at the proxy
   * (credentials, path and options kept).
   */
  static async inFrontOf(
    serverUrl: string,
    defaultPort: number,
  ): Promise<{ proxy: StallingProxy; url: string }> {
    const target = new URL(serverUrl);
    const proxy = new StallingProxy({
      host: target.hostname,
      port: Number(target.port || defaultPort),
    });
    const url = new URL(serverUrl);
    url.hostname = '127.0.0.1';
    url.port = String(await proxy.listen());
    return { proxy, url: url.toString() };
  }

  /** Listens on 127.0.0.1:`port` (0: any free port); resolves to the port. */
  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  stall(scope: 'all' | 'open' = 'all'): void {
    if (scope === 'all') this.stalled = true;
    for (const socket of this.sockets) socket.pause();
  }

  heal(): void {
    this.stalled = false;
    for (const socket of this.sockets) socket.resume();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
