import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import path from 'node:path';
import {
  freePort,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';

const appDir = path.join(__dirname, '..');

/** A redis-server of this file's own: the test kills it (the shared one must stay up). */
class RedisProcess {
  private child: ChildProcess | undefined;

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', ''];
    args.push('--appendonly', 'no', '--logfile', '');
    this.child = spawn('redis-server', args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await pong(this.port))) {
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer`);
      await delay(20);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/** True when the server answers PING with PONG. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('sse-gateway shutdown', () => {
  const ns = testNamespace('sseshutdown');
  let redis: RedisProcess | undefined;
  let gateway: ServiceProcess | undefined;

  afterEach(async () => {
    await gateway?.stop('SIGKILL');
    await redis?.stop();
  });

  // The hub's follower blocks in XREAD on its own connection; when Redis goes away under it,
  // ioredis waits to reconnect with that XREAD queued, and a stop must not wait for it.
  it('exits 0 promptly on SIGTERM after its Redis went away', async () => {
    redis = new RedisProcess(await freePort());
    await redis.start();
    gateway = await startServiceProcess({
      appDir,
      env: {
        REDIS_URL: redis.url,
        ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
        JWT_SECRET: `jwt-${ns.id}-0123456789-0123456789`,
        TOPIC_PREFIX: ns.id,
        SHUTDOWN_TIMEOUT_MS: '10000',
      },
    });
    await waitForStatus(`${gateway.url}/health/ready`, 200);
    await delay(500); // the follower is reading
    await redis.stop();
    await delay(1_000); // the gateway's connections notice and wait to reconnect
    const started = Date.now();
    gateway.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      gateway.exited,
      new Promise<'still running'>((resolve) => {
        timer = setTimeout(() => resolve('still running'), 5_000);
      }),
    ]);
    clearTimeout(timer);
    expect({ code, stderr: gateway.stderr() }).toEqual({ code: 0, stderr: '' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(gateway.stdoutLines().join('\n')).not.toMatch(/shutdown did not finish/);
  });
});
