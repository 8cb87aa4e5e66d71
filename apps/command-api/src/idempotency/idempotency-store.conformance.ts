import { randomUUID } from 'node:crypto';
import { type IdempotencyStore } from './idempotency-store.port';

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return Date.now();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

/**
 * The contract of IdempotencyStore (see its doc comment), run against every implementation.
 * `factory` returns a fresh, empty store. Uses jest globals: import it from specs only.
 */
export function describeIdempotencyStore(
  name: string,
  factory: () => Promise<IdempotencyStore>,
): void {
  describe(`${name} idempotency store conformance`, () => {
    const lease = 30_000;
    const day = 86_400_000;
    const answer = { status: 202, body: { status: 'accepted', commandId: randomUUID() } };
    const start = (at = Date.now(), keepMs = day) => ({ at, keepMs });

    it('starts a new key, then replays its answer for the same request', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const first = await store.begin(key, 'fp-1', lease, start());
      expect(first).toMatchObject({ state: 'started', startedAt: expect.any(Number) });
      await store.complete(key, (first as { token: string }).token, answer, day);
      expect(await store.begin(key, 'fp-1', lease, start())).toEqual({
        state: 'completed',
        answer,
      });
      expect(await store.begin(key, 'fp-1', lease, start())).toEqual({
        state: 'completed',
        answer,
      });
    });

    it('refuses the key for a different request, in flight and answered', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const first = await store.begin(key, 'fp-1', lease, start());
      expect(await store.begin(key, 'fp-2', lease, start())).toEqual({ state: 'mismatch' });
      await store.complete(key, (first as { token: string }).token, answer, day);
      expect(await store.begin(key, 'fp-2', lease, start())).toEqual({ state: 'mismatch' });
    });

    it('lets exactly one of many concurrent duplicates start', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: 20 }, () => store.begin(key, 'fp-1', lease, start())),
      );
      expect(results.filter((result) => result.state === 'started')).toHaveLength(1);
      expect(results.filter((result) => result.state === 'in-flight')).toHaveLength(19);
    });

    it('frees a released key at once and ignores a stranger token', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const first = (await store.begin(key, 'fp-1', lease, start())) as { token: string };
      await store.release(key, 'not-the-token');
      await store.complete(key, 'not-the-token', answer, day);
      expect(await store.begin(key, 'fp-1', lease, start())).toEqual({ state: 'in-flight' });
      await store.release(key, first.token);
      const again = await store.begin(key, 'fp-2', lease, start());
      expect(again.state).toBe('started');
    });

    it('keeps keys apart', async () => {
      const store = await factory();
      const suffix = randomUUID();
      expect((await store.begin(`ash:${suffix}`, 'fp', lease, start())).state).toBe('started');
      expect((await store.begin(`misty:${suffix}`, 'fp', lease, start())).state).toBe('started');
    });

    it('frees a key whose holder died once the lease ends', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const started = Date.now();
      expect((await store.begin(key, 'fp-1', 300, start())).state).toBe('started');
      const freed = await eventually(
        async () => (await store.begin(key, 'fp-1', lease, start())).state === 'started',
        10_000,
      );
      expect(freed - started).toBeGreaterThanOrEqual(295);
    });

    it('forgets an answer after its ttl', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const first = (await store.begin(key, 'fp-1', lease, start())) as { token: string };
      const completed = Date.now();
      await store.complete(key, first.token, answer, 300);
      const freed = await eventually(
        async () => (await store.begin(key, 'fp-2', lease, start())).state === 'started',
        10_000,
      );
      expect(freed - completed).toBeGreaterThanOrEqual(295);
    });

    it('starts a new key at the time given', async () => {
      const store = await factory();
      const at = Date.now() - 5_000;
      const first = await store.begin(`ash:${randomUUID()}`, 'fp-1', lease, start(at));
      expect(first).toMatchObject({ state: 'started', startedAt: at, resumed: false });
    });

    it('keeps the first start time through a release with keepStart, for that request only', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const at = Date.now() - 5_000;
      const first = (await store.begin(key, 'fp-1', lease, start(at))) as { token: string };
      await store.release(key, first.token, { keepStart: true });
      // It may have sent a command under the key's ids: another request must not reuse them.
      expect(await store.begin(key, 'fp-2', lease, start())).toEqual({ state: 'mismatch' });
      const retry = (await store.begin(key, 'fp-1', lease, start())) as { token: string };
      // Resumed: the caller knows an earlier attempt may have sent a command (whatever the clocks).
      expect(retry).toMatchObject({ state: 'started', startedAt: at, resumed: true });
      await store.release(key, retry.token, { keepStart: true });
      expect(await store.begin(key, 'fp-1', lease, start())).toMatchObject({
        state: 'started',
        startedAt: at,
      });
    });

    it('frees the key for another request after a plain release', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const first = (await store.begin(key, 'fp-1', lease, start())) as { token: string };
      await store.release(key, first.token);
      expect((await store.begin(key, 'fp-2', lease, start())).state).toBe('started');
    });

    it('binds the key to the request of a holder that died', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      expect((await store.begin(key, 'fp-1', 300, start())).state).toBe('started');
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await store.begin(key, 'fp-2', lease, start())).toEqual({ state: 'mismatch' });
      expect((await store.begin(key, 'fp-1', lease, start())).state).toBe('started');
    });

    it('forgets the start time on a plain release: nothing was sent, the key is new', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const at = Date.now() - 600_000;
      const first = (await store.begin(key, 'fp-1', lease, start(at))) as { token: string };
      await store.release(key, first.token);
      const now = Date.now();
      expect(await store.begin(key, 'fp-1', lease, start(now))).toMatchObject({
        state: 'started',
        startedAt: now,
        resumed: false,
      });
    });

    it('keeps the first start time when its holder died', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const at = Date.now() - 5_000;
      expect((await store.begin(key, 'fp-1', 300, start(at))).state).toBe('started');
      let retry: Awaited<ReturnType<IdempotencyStore['begin']>> | undefined;
      await eventually(async () => {
        retry = await store.begin(key, 'fp-1', lease, start());
        return retry.state === 'started';
      }, 10_000);
      expect(retry).toMatchObject({ state: 'started', startedAt: at, resumed: true });
    });

    it('abandons a begin that started the key new: the key is new again', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const token = randomUUID();
      const first = await store.begin(key, 'fp-1', lease, { ...start(Date.now() - 5_000), token });
      expect(first).toMatchObject({ state: 'started', token });
      await store.abandon(key, token);
      const now = Date.now();
      // Free for any request, at its own time: as if the attempt had never reached the store.
      expect(await store.begin(key, 'fp-2', lease, start(now))).toMatchObject({
        state: 'started',
        startedAt: now,
      });
    });

    it('abandons a begin over a kept start: free for its request, the earlier start kept', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const at = Date.now() - 5_000;
      const first = (await store.begin(key, 'fp-1', lease, start(at))) as { token: string };
      await store.release(key, first.token, { keepStart: true });
      const token = randomUUID();
      await store.begin(key, 'fp-1', lease, { ...start(), token });
      await store.abandon(key, token);
      await store.abandon(key, token); // again: nothing more changes
      expect(await store.begin(key, 'fp-2', lease, start())).toEqual({ state: 'mismatch' });
      expect(await store.begin(key, 'fp-1', lease, start())).toMatchObject({
        state: 'started',
        startedAt: at,
      });
    });

    it('abandons nothing for a token that does not hold the key', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const holder = (await store.begin(key, 'fp-1', lease, start())) as { token: string };
      await store.abandon(key, randomUUID());
      expect(await store.begin(key, 'fp-1', lease, start())).toEqual({ state: 'in-flight' });
      await store.complete(key, holder.token, answer, day);
      await store.abandon(key, holder.token);
      expect(await store.begin(key, 'fp-1', lease, start())).toEqual({
        state: 'completed',
        answer,
      });
    });

    it('does not complete for a holder whose lease lapsed', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const first = (await store.begin(key, 'fp-1', 300, start())) as { token: string };
      await new Promise((resolve) => setTimeout(resolve, 400));
      await store.complete(key, first.token, answer, day);
      expect((await store.begin(key, 'fp-1', lease, start())).state).toBe('started');
    });

    it('forgets the start time keepMs after the last start', async () => {
      const store = await factory();
      const key = `ash:${randomUUID()}`;
      const at = Date.now() - 5_000;
      const first = (await store.begin(key, 'fp-1', 100, start(at, 300))) as { token: string };
      await store.release(key, first.token, { keepStart: true });
      await new Promise((resolve) => setTimeout(resolve, 450));
      const now = Date.now();
      expect(await store.begin(key, 'fp-1', lease, start(now))).toMatchObject({
        state: 'started',
        startedAt: now,
      });
    });
  });
}
