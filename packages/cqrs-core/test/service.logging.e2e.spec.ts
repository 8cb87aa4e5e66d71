import { spawn } from 'node:child_process';
import { createServer, request } from 'node:http';
import { type AddressInfo } from 'node:net';
import path from 'node:path';

// The built package, as a service's main file runs it: its request log lines on stdout.
const packageDir = path.resolve(__dirname, '..');

const script = `
  const { z } = require('zod');
  const common = require('@nestjs/common');
  const { bootstrapService, CausewayServiceModule } = require(${JSON.stringify(path.join(packageDir, 'dist', 'nest', 'index.js'))});
  class Things {
    list() {
      return { ok: true };
    }
  }
  common.Get()(Things.prototype, 'list', Object.getOwnPropertyDescriptor(Things.prototype, 'list'));
  common.Controller('things')(Things);
  class Root {}
  void bootstrapService({
    service: 'probe',
    configuration: z.object({}),
    env: {},
    listen: () => ({ port: Number(process.env.PROBE_PORT), host: '127.0.0.1' }),
    module: () => ({
      module: Root,
      imports: [CausewayServiceModule.forRoot({ service: 'probe', instanceId: 'i1', logLevel: 'info' })],
      controllers: [Things],
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

function get(port: number, target: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const sent = request({ host: '127.0.0.1', port, path: target, headers }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    sent.on('error', reject);
    sent.end();
  });
}

describe("a service's request log", () => {
  it('shows none of the common secret shapes a request carries', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['-e', script], {
      cwd: packageDir,
      env: { ...process.env, PROBE_PORT: String(port) },
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      for (let i = 0; i < 200 && !stdout.includes('listening on'); i++)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(stdout).toContain('listening on');
      const status = await get(port, '/things?token=s3-query&password=s3-pass&page=2', {
        Authorization: 'Bearer s3-authorization',
        Cookie: 'session=s3-cookie',
        'Proxy-Authorization': 'Basic s3-proxy',
        'X-Api-Key': 's3-api-key',
        Referer: 'http://app.example/login?token=s3-referer&next=%2Fthings',
      });
      expect(status).toBe(200);
      for (let i = 0; i < 100 && !stdout.includes('request completed'); i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    const line = stdout.split('\n').find((entry) => entry.includes('request completed'));
    expect(line).toBeDefined();
    const logged = JSON.parse(line!) as { req: { url: string; headers: Record<string, string> } };
    expect(logged.req.url).toBe('/things?token=[Redacted]&password=[Redacted]&page=2');
    expect(logged.req.headers.referer).toBe(
      'http://app.example/login?token=[Redacted]&next=%2Fthings',
    );
    expect(stdout).not.toMatch(/s3-/);
  });
});
