import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchSystem, stopSystem, type RunningInstance } from './system.launcher';

/** A stand-in app under <root>/apps/echo: ready at once, GET /env answers its environment. */
function echoAppRoot(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'launcher-'));
  mkdirSync(path.join(root, 'apps', 'echo', 'dist'), { recursive: true });
  writeFileSync(
    path.join(root, 'apps', 'echo', 'dist', 'main.js'),
    `require('node:http')
      .createServer((request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(request.url === '/env' ? JSON.stringify(process.env) : '{}');
      })
      .listen(Number(process.env.PORT), '127.0.0.1');
    process.on('SIGTERM', () => process.exit(0));`,
  );
  return root;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('launchSystem', () => {
  let running: RunningInstance[] = [];
  afterEach(async () => {
    await stopSystem(running.splice(0), 2_000);
  });

  it("passes the app settings of the launcher's environment to every app, the plan winning", async () => {
    const root = echoAppRoot();
    const port = await freePort();
    running = await launchSystem(
      [
        {
          app: 'echo',
          instanceId: 'echo-1',
          port,
          env: { PORT: String(port), INSTANCE_ID: 'echo-1', LOG_LEVEL: 'warn' },
        },
      ],
      {
        root,
        logDir: path.join(root, 'logs'),
        readyTimeoutMs: 5_000,
        environment: {
          TOPIC_PREFIX: 'staging-',
          COMMAND_TIMEOUT_MS: '5000',
          HEARTBEAT_MS: '1000',
          LOG_LEVEL: 'debug', // the plan sets it: the plan's value wins
          PORT: '1', // likewise
          AWS_SECRET_ACCESS_KEY: 'not-a-setting', // not an app setting: stays with the launcher
        },
      },
    );

    const env = (await (await fetch(`http://127.0.0.1:${port}/env`)).json()) as Record<
      string,
      string
    >;
    expect(env).toMatchObject({
      TOPIC_PREFIX: 'staging-',
      COMMAND_TIMEOUT_MS: '5000',
      HEARTBEAT_MS: '1000',
      LOG_LEVEL: 'warn',
      PORT: String(port),
    });
    expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
  });
});
