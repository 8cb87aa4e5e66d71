import path from 'node:path';
import {
  freePort,
  RedisServerProcess,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';

const appDir = path.join(__dirname, '..');

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('sse-gateway shutdown', () => {
  const ns = testNamespace('sseshutdown');
  let redis: RedisServerProcess | undefined;
  let gateway: ServiceProcess | undefined;

  afterEach(async () => {
    await gateway?.stop('SIGKILL');
    await redis?.remove();
  });

  // The hub's follower blocks in XREAD on its own connection; when Redis goes away under it,
  // ioredis waits to reconnect with that XREAD queued, and a stop must not wait for it.
  it('exits 0 promptly on SIGTERM after its Redis went away', async () => {
    redis = new RedisServerProcess(await freePort());
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
    await redis.stop('SIGKILL');
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
