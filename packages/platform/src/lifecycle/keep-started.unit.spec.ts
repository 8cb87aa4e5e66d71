import { type HealthProbe } from '@causeway/cqrs-core';
import { redisConnection } from '@causeway/cqrs-core/redis';
import { keepStarted, type Startable } from './keep-started';

/** A port nothing listens on (the kernel gave it out once and took it back). */
async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A part that starts on its third try: first its subscription fails as it does while Redis is
 * unreachable (a real connection to a closed port), then with a refusal, then it starts.
 */
class ThirdTime implements Startable {
  ready = false;
  tries = 0;
  constructor(private readonly unreachableRedisUrl: string) {}
  async start(): Promise<void> {
    this.tries++;
    if (this.tries === 1) {
      const redis = redisConnection({ url: this.unreachableRedisUrl, connectTimeoutMs: 200 });
      try {
        await redis.client.subscribe('revocations');
      } finally {
        await redis.close();
      }
    }
    if (this.tries === 2) throw new Error('NOPERM this user has no permissions');
    this.ready = true;
  }
  async close(): Promise<void> {
    this.ready = false;
  }
}

describe('keepStarted', () => {
  it('retries until started, saying why in words an operator can act on, with a probe down until then', async () => {
    const part = new ThirdTime(`redis://127.0.0.1:${await closedPort()}`);
    const probes: HealthProbe[] = [];
    const warnings: string[] = [];
    const kept = keepStarted('token-revocations', part, {
      probes,
      warn: (message) => warnings.push(message),
    });
    await expect(probes[0]!.check()).rejects.toThrow('token-revocations is not started yet');
    const deadline = Date.now() + 10_000;
    while (!part.ready && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await expect(probes[0]!.check()).resolves.toBeUndefined();
    expect(warnings).toEqual([
      'token-revocations not started: Redis is unreachable (see the Connections lines for its address and cause); retrying',
      'token-revocations not started: NOPERM this user has no permissions; retrying',
    ]);
    await kept.close();
    expect(part.ready).toBe(false);
  });
});
