import { spawn } from 'node:child_process';
import { Agent, createServer, request } from 'node:http';
import { type AddressInfo } from 'node:net';
import path from 'node:path';

// The built package, as a service's main file runs it: a slow endpoint, still answering when
// the drain (what CqrsCoreModule's router does at shutdown, the HTTP server still serving) is
// over and Nest closes the HTTP server.
const packageDir = path.resolve(__dirname, '..');

const script = `
  const { z } = require('zod');
  const common = require('@nestjs/common');
  const { bootstrapService, CausewayServiceModule } = require(${JSON.stringify(path.join(packageDir, 'dist', 'nest', 'index.js'))});
  class Slow {
    async answer() {
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      return { ok: true };
    }
  }
  common.Get()(Slow.prototype, 'answer', Object.getOwnPropertyDescriptor(Slow.prototype, 'answer'));
  common.Controller('slow')(Slow);
  class Drain {
    beforeApplicationShutdown() {
      return new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
  common.Injectable()(Drain);
  class Root {}
  void bootstrapService({
    service: 'probe',
    configuration: z.object({}),
    env: {},
    listen: () => ({ port: Number(process.env.PROBE_PORT), host: '127.0.0.1' }),
    // Far longer than the shutdown takes: only a connection left open reaches it.
    shutdownTimeoutMs: () => 20_000,
    module: () => ({
      module: Root,
      imports: [CausewayServiceModule.forRoot({ service: 'probe', instanceId: 'i1', logLevel: 'info' })],
      controllers: [Slow],
      providers: [Drain],
    }),
  });
`;

/** A port free a moment ago, for the service to listen on. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Answer {
  status: number;
  connection: string | undefined;
}

function get(port: number, target: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sent = request({ host: '127.0.0.1', port, path: target, agent }, (response) => {
      response.resume();
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, connection: response.headers.connection }),
      );
    });
    sent.on('error', reject);
    sent.end();
  });
}

describe('a service stopped while a keep-alive client has a request in flight', () => {
  it('answers the request, closes its connection and exits 0 (not 1 at the shutdown timeout)', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['-e', script], {
      cwd: packageDir,
      env: { ...process.env, PROBE_PORT: String(port) },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // A load balancer's way: one connection kept for many requests.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const other = new Agent({ keepAlive: true });
    try {
      for (let i = 0; i < 200 && !output.includes('listening on'); i++)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(output).toContain('listening on');
      // The connection is kept alive before the shutdown.
      expect(await get(port, '/health/live', agent)).toEqual({
        status: 200,
        connection: 'keep-alive',
      });
      const inFlight = get(port, '/slow', agent);
      await new Promise((resolve) => setTimeout(resolve, 300));
      child.kill('SIGTERM');
      for (let i = 0; i < 200 && !output.includes('shutting down'); i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      // Still served during the drain, on a connection that then closes.
      expect(await get(port, '/health/live', other)).toEqual({ status: 200, connection: 'close' });
      // Answered after the drain, on a connection that then closes: Node's server.close() left
      // it open for its keep-alive timeout (65 s), past the shutdown timeout (exit code 1).
      expect(await inFlight).toEqual({ status: 200, connection: 'close' });
      expect(await exited).toBe(0);
      expect(output).not.toMatch(/shutdown did not finish/);
    } finally {
      agent.destroy();
      other.destroy();
      child.kill('SIGKILL');
    }
  }, 40_000);
});
