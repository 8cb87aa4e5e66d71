/**
 * The server side of the SSE benchmark, run as its own process (so its memory is measured
 * alone and the client process keeps its file descriptors): `bare` is a plain node:http SSE
 * server, `gateway` the built sse-gateway (GatewayModule over the in-memory NotificationLog, with
 * CausewayServiceModule like the app). Driven over IPC: mem | broadcast | count | stop.
 */
import { createServer, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

type Message = { cmd: 'mem' } | { cmd: 'broadcast'; n: string } | { cmd: 'count' };

const root = path.join(__dirname, '..', '..');
const send = (message: unknown) => process.send?.(message);

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
    else if (message.cmd === 'broadcast') server.broadcast(message.n);
  });
  process.on('disconnect', () => process.exit(0));
  send({ ready: true, port: server.port });
}

void main().catch((error: unknown) => {
  process.stderr.write(`sse bench server failed: ${(error as Error).stack}\n`);
  process.exit(1);
});
