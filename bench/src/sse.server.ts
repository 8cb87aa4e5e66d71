/**
 * The server side of the SSE benchmark, run as its own process (so its memory is measured
 * alone and the client process keeps its file descriptors): `bare` is a plain node:http SSE
 * server, `gateway` the built sse-gateway (GatewayModule over the in-memory NotificationLog, with
 * CausewayServiceModule like the app). Driven over IPC: mem | broadcast (answered with the
 * fan-out time inside the server, see `fanning`) | count.
 */
import { createServer, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

type Message = { cmd: 'mem' } | { cmd: 'broadcast'; n: string } | { cmd: 'count' };

const root = path.join(__dirname, '..', '..');
const send = (message: unknown) => process.send?.(message);

/**
 * The fan-out inside the server: from the broadcast order's arrival over IPC to the callback of
 * the last `res.write` carrying its frame (the frame handed to the kernel for every stream). Both
 * servers write each stream's frames with `res.write` on a node:http ServerResponse (the gateway's
 * SseSink is one), so the same hook times both: what the clients' side adds (their reads, this
 * IPC, the bench process's event loop) is shared by both and dilutes the clients' ratio.
 */
let fanning: { marker: string; started: bigint; expected: number; written: number } | undefined;
const write = ServerResponse.prototype.write as (
  this: ServerResponse,
  chunk: unknown,
  ...rest: unknown[]
) => boolean;
ServerResponse.prototype.write = function (
  this: ServerResponse,
  chunk: unknown,
  ...rest: unknown[]
): boolean {
  const order = fanning;
  // Text (the bare server) or bytes (the gateway encodes each frame once for every stream).
  if (
    !order ||
    !(typeof chunk === 'string' || Buffer.isBuffer(chunk)) ||
    !chunk.includes(order.marker)
  )
    return write.call(this, chunk, ...rest);
  // write(chunk, callback?) or write(chunk, encoding, callback?): the caller's callback still runs.
  const then = rest.find((arg) => typeof arg === 'function') as
    ((error?: Error | null) => void) | undefined;
  const encoding = rest.filter((arg) => typeof arg === 'string');
  const done = (error?: Error | null) => {
    if (++order.written === order.expected) {
      fanning = undefined;
      send({ fanned: Number(process.hrtime.bigint() - order.started) / 1e6 });
    }
    then?.(error);
  };
  return write.call(this, chunk, ...encoding, done);
} as typeof ServerResponse.prototype.write;

function memory() {
  for (let i = 0; i < 4; i++) global.gc?.();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, external, arrayBuffers };
}

async function bare(): Promise<{ port: number; broadcast(n: string): void; count(): number }> {
  const open = new Set<ServerResponse>();
  let seq = 0;
  const server = createServer((req, res) => {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
    });
    res.write(`id: 0-0\ndata: {"jsonrpc":"2.0","method":"session","params":{}}\n\n`);
    open.add(res);
    res.once('close', () => open.delete(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', 10_000, resolve));
  return {
    port: (server.address() as { port: number }).port,
    broadcast(n) {
      const frame = `id: ${Date.now()}-${seq++}\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'bench.broadcast', params: { n } })}\n\n`;
      for (const res of open) res.write(frame);
    },
    count: () => open.size,
  };
}

async function gateway(): Promise<{ port: number; broadcast(n: string): void; count(): number }> {
  // The built app and packages (dist, compiled with decorator metadata), as in production.
  const app = createRequire(path.join(root, 'apps', 'sse-gateway', 'package.json'));
  const { NestFactory } = app(
    '@nestjs/core',
  ) as typeof import('../../apps/sse-gateway/node_modules/@nestjs/core');
  const { Module } = app(
    '@nestjs/common',
  ) as typeof import('../../apps/sse-gateway/node_modules/@nestjs/common');
  const { CausewayServiceModule } = app(
    '@causeway/cqrs-core/nest',
  ) as typeof import('@causeway/cqrs-core/nest');
  const platform = app('@causeway/platform') as typeof import('../../packages/platform/src');
  const sse = app(
    path.join(root, 'apps', 'sse-gateway', 'dist', 'index.js'),
  ) as typeof import('../../apps/sse-gateway/src');
  const log = new platform.InMemoryNotificationLog();
  const gatewayModule = sse.GatewayModule.forRoot({
    serverId: 'bench',
    tokens: new platform.TokenService({ secret: process.env.JWT_SECRET! }),
    notifications: log,
    positions: new platform.InMemoryTrainerPositions(),
    groups: new platform.InMemoryGroupMembers(),
    presence: new sse.InMemoryPresenceRegistry(),
    settings: { maxConnections: 50_000 },
  });
  @Module({
    imports: [
      CausewayServiceModule.forRoot({
        service: 'sse-gateway',
        instanceId: 'bench',
        logLevel: 'warn',
        connections: [],
      }),
      gatewayModule,
    ],
  })
  class BenchModule {}
  const nest = await NestFactory.create(BenchModule, { logger: ['error', 'warn'] });
  await nest.listen(0, '127.0.0.1');
  const hub = nest.get(sse.SseHub);
  const server = nest.getHttpServer() as import('node:http').Server;
  let seq = 0;
  return {
    port: (server.address() as { port: number }).port,
    broadcast(n) {
      void log.append({
        notificationId: `b-${seq++}`,
        targetType: 'broadcast',
        targetIds: [],
        method: 'bench.broadcast',
        params: { n },
        serverId: 'bench',
      });
    },
    count: () => hub.size,
  };
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  const server = mode === 'gateway' ? await gateway() : await bare();
  process.on('message', (message: Message) => {
    if (message.cmd === 'mem') send({ mem: memory() });
    else if (message.cmd === 'count') send({ count: server.count() });
    else if (message.cmd === 'broadcast') {
      fanning = {
        marker: `"n":"${message.n}"`,
        started: process.hrtime.bigint(),
        expected: server.count(),
        written: 0,
      };
      server.broadcast(message.n);
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ ready: true, port: server.port });
}

void main().catch((error: unknown) => {
  process.stderr.write(`sse bench server failed: ${(error as Error).stack}\n`);
  process.exit(1);
});
