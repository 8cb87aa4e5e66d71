import { type HealthProbe } from '@causeway/cqrs-core';
import { keepStarted, type Startable } from './keep-started';

/** A part that starts on its third try: the first two fail as ioredis and as anything else fails. */
class ThirdTime implements Startable {
  ready = false;
  tries = 0;
  async start(): Promise<void> {
    this.tries++;
    if (this.tries === 1)
      throw Object.assign(
        new Error(
          'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details. (SUBSCRIBE was not sent to Redis and never will be)',
        ),
        { name: 'MaxRetriesPerRequestError' },
      );
    if (this.tries === 2) throw new Error('NOPERM this user has no permissions');
    this.ready = true;
  }
  async close(): Promise<void> {
    this.ready = false;
  }
}

describe('keepStarted', () => {
  it('retries until started, saying why in words an operator can act on, with a probe down until then', async () => {
    const part = new ThirdTime();
    const probes: HealthProbe[] = [];
    const warnings: string[] = [];
    const kept = keepStarted('token-revocations', part, {
      probes,
      warn: (message) => warnings.push(message),
    });
    await expect(probes[0]!.check()).rejects.toThrow('token-revocations is not started yet');
    const deadline = Date.now() + 5_000;
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
