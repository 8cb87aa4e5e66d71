import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { removeNamespaceData, serverAddress, testNamespace } from '@causeway/testkit';

const cli = path.resolve(__dirname, '..', 'dist', 'cli.js');

// Closing the terminal that runs `npm run start:distributed` sends SIGHUP to its foreground
// process group; Ctrl-C sends SIGINT to it. The launcher stops the apps gracefully on both
// (SIGTERM, then their shutdown); the apps must not get the terminal's signal themselves, or a
// SIGHUP kills every one of them on the spot, mid-handler, before the launcher asks.
describe('causeway-launch, when its terminal hangs up', () => {
  const ns = testNamespace('hangup');
  let launcher: ChildProcess | undefined;

  afterAll(async () => {
    // A launcher still running (the test failed before the hangup): stopped as an operator
    // would, SIGTERM, so that it stops its apps before their data is removed.
    if (launcher && launcher.exitCode === null && launcher.signalCode === null) {
      const gone = new Promise((resolve) => launcher!.once('exit', resolve));
      launcher.kill('SIGTERM');
      await gone;
    }
    await removeNamespaceData(ns);
  }, 60_000);

  it('stops every app gracefully on a SIGHUP to its process group, none killed by it', async () => {
    const portBase = 17_000 + 10 * Math.floor(Math.random() * 150);
    // Its own process group, as a terminal's foreground job: the test signals that group.
    launcher = spawn(process.execPath, [cli], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        REDIS_URL: serverAddress('redis'),
        KAFKA_BROKERS: serverAddress('kafka'),
        MONGODB_URI: ns.mongoUri(),
        TOPIC_PREFIX: `${ns.id}.`,
        ADMIN_TOKEN: `hangup-${ns.id}-admin-token`,
        JWT_SECRET: `hangup-${ns.id}-jwt-secret-0123456789abcdef`,
        LOG_LEVEL: 'warn',
        APP_PORT_BASE: String(portBase),
        EDGE_PORT: String(portBase + 50),
      },
    });
    let out = '';
    let err = '';
    const up = new Promise<void>((resolve) =>
      launcher!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Causeway is up')) resolve();
      }),
    );
    launcher.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((resolve) =>
      launcher!.once('exit', (code) => resolve(code)),
    );
    await Promise.race([up, exited.then(() => Promise.reject(new Error(`exited: ${err}`)))]);

    process.kill(-launcher.pid!, 'SIGHUP');

    expect(await exited).toBe(0);
    expect(err).toBe('');
    const stopped = out.split('\n').filter((line) => / stopped$/.test(line));
    expect(stopped.sort()).toEqual([
      'command-api-1 stopped',
      'order-processor-1 stopped',
      'projection-worker-1 stopped',
      'sse-gateway-1 stopped',
      'trainer-service-1 stopped',
    ]);
  }, 150_000);
});
