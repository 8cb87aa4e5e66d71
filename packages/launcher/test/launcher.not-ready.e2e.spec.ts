import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchSystem, planInstances } from '../src';

/** A port nothing listens on (it was free a moment ago). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// An app whose server does not answer stays up and unready (it retries): the launcher gives up
// after its ready timeout. Its error must say why — which checks are down and the server the app
// cannot reach, with the setting that names it — not only "last: 503".
describe('launchSystem, when an app cannot reach its server', () => {
  it('says which checks are down and which setting names the unreachable server, without its credentials', async () => {
    const deadRedis = await freePort();
    const [gateway] = planInstances(
      {
        REDIS_URL: `redis://causeway:s3cret-pass@127.0.0.1:${deadRedis}`,
        // Planned for the other apps only: this test starts the gateway alone.
        KAFKA_BROKERS: '127.0.0.1:9',
        MONGODB_URI: 'mongodb://127.0.0.1:9/unused',
      },
      {
        adminToken: 'not-ready-test-admin-token',
        jwtSecret: 'not-ready-test-jwt-secret-0123456789abcdef',
        logLevel: 'warn',
      },
    ).filter((instance) => instance.app === 'sse-gateway');
    const port = await freePort();
    // Its read models in Redis: REDIS_URL is the only server it needs.
    const { MONGODB_URI: _unused, ...env } = gateway!.env;
    const instance = { ...gateway!, port, env: { ...env, PORT: String(port) } };
    const logDir = mkdtempSync(path.join(tmpdir(), 'causeway-not-ready-'));

    const failure = launchSystem([instance], {
      root: path.resolve(__dirname, '..', '..', '..'),
      logDir,
      readyTimeoutMs: 10_000,
    });

    const error = (await failure.then(
      () => new Error('ready against a Redis that does not run'),
      (reason: unknown) => reason as Error,
    )) as Error;
    expect(error.message).toMatch(/^sse-gateway-1 not ready within 10000 ms \(last: 503 \(down: /);
    expect(error.message).toMatch(/down: [^)]*\bredis\b/);
    expect(error.message).toContain(`unreachable`);
    expect(error.message).toContain('(REDIS_URL)');
    expect(error.message).toContain(`127.0.0.1:${deadRedis}`);
    expect(error.message).not.toContain('s3cret-pass');
    expect(error.message).toContain(path.join(logDir, 'sse-gateway-1.log'));
    // The launcher stopped the app it had started.
    await expect(fetch(`http://127.0.0.1:${port}/health/live`)).rejects.toThrow();
  }, 60_000);
});
