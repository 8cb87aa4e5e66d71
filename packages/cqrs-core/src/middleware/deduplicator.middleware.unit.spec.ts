import { DeferredError, PermanentError } from '../router/handler.errors';
import { type HandlerInfo } from '../router/handler';
import { testDelivery, testEnvelope } from '../testing/envelope.fixture';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { compose } from '../router/handler';
import { deadLetter, DeadLettered } from './dead-letter.middleware';
import { deduplicator, FailedAfterEffectError, ResultNotKept } from './deduplicator.middleware';
import { retry } from './retry.middleware';
import { InMemoryDeduplicationStore } from './in-memory.deduplication-store';

const info: HandlerInfo = { name: 'h', topics: ['t'], group: 'g' };

describe('deduplicator middleware', () => {
  it('refuses a ttlMs or leaseMs that is not a positive integer when built, not per message', () => {
    const store = new InMemoryDeduplicationStore();
    for (const bad of [0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => deduplicator({ store, ttlMs: bad })).toThrow(RangeError);
      expect(() => deduplicator({ store, ttlMs: bad })).toThrow(`ttlMs must be a positive integer`);
      expect(() => deduplicator({ store, leaseMs: bad })).toThrow(RangeError);
      expect(() => deduplicator({ store, leaseMs: bad })).toThrow(
        `leaseMs must be a positive integer`,
      );
    }
    expect(() => deduplicator({ store, leaseMs: '60000' as unknown as number })).toThrow(TypeError);
    expect(() => deduplicator({ store, ttlMs: 1, leaseMs: 1 })).not.toThrow();
  });

  it('handles a messageId once per group, defers it while in progress, and retries after a failure', async () => {
    const store = new InMemoryDeduplicationStore();
    const handled: string[] = [];
    let fail = true;
    let release: () => void = () => undefined;
    const handler = deduplicator({ store })(async (d) => {
      if (d.envelope.data === 'slow') await new Promise<void>((resolve) => (release = resolve));
      if (d.envelope.data === 'flaky' && fail) throw new Error('flaky');
      handled.push(`${d.group}:${String(d.envelope.data)}`);
    }, info);

    const once = testEnvelope('T', 'once');
    await handler(testDelivery(once));
    await handler(testDelivery(once));
    await handler(testDelivery(once, { group: 'other-group' }));
    expect(handled).toEqual(['test-group:once', 'other-group:once']);

    const slow = testEnvelope('T', 'slow');
    const first = handler(testDelivery(slow));
    await expect(handler(testDelivery(slow))).rejects.toBeInstanceOf(DeferredError);
    release();
    await first;

    const flaky = testEnvelope('T', 'flaky');
    await expect(handler(testDelivery(flaky))).rejects.toThrow('flaky');
    fail = false;
    await handler(testDelivery(flaky));
    expect(handled).toEqual([
      'test-group:once',
      'other-group:once',
      'test-group:slow',
      'test-group:flaky',
    ]);
  });

  it('answers a duplicate with the first result as JSON, or ResultNotKept when it was too large or had no JSON', async () => {
    const store = new InMemoryDeduplicationStore();
    let runs = 0;
    const handler = deduplicator({ store, maxResultBytes: 64 })(async (d) => {
      runs++;
      const data = d.envelope.data as string;
      if (data === 'big') return 'x'.repeat(70);
      if (data === 'bigint') return 10n;
      if (data === 'nothing') return undefined;
      return { echo: data, at: new Date(0) };
    }, info);
    const small = testEnvelope('T', 'é');
    expect(await handler(testDelivery(small))).toEqual({ echo: 'é', at: new Date(0) });
    expect(await handler(testDelivery(small))).toEqual({
      echo: 'é',
      at: '1970-01-01T00:00:00.000Z',
    });
    for (const data of ['big', 'bigint']) {
      const envelope = testEnvelope('T', data);
      expect(await handler(testDelivery(envelope))).toBeDefined();
      // Not undefined: the handling had a result, it is gone (a CommandBus says so).
      expect(await handler(testDelivery(envelope))).toEqual(new ResultNotKept(envelope.messageId));
    }
    // A result of undefined is not one lost: its duplicate answers undefined.
    const nothing = testEnvelope('T', 'nothing');
    expect(await handler(testDelivery(nothing))).toBeUndefined();
    expect(await handler(testDelivery(nothing))).toBeUndefined();
    expect(runs).toBe(4);
  });

  it('keeps a failure after the effect as the outcome: a duplicate, also one deferred meanwhile, gets it again, unhandled', async () => {
    const store = new InMemoryDeduplicationStore();
    let runs = 0;
    let release: () => void = () => undefined;
    const handler = deduplicator({ store })(async (d) => {
      runs++;
      if (d.envelope.data === 'text') return ' "failed after its effect: {}"'; // a mere result
      await new Promise<void>((resolve) => (release = resolve));
      // What the CommandBus throws when the handler's result fails its schema, after the write.
      throw Object.assign(new PermanentError('result does not match'), {
        name: 'CommandResultInvalidError',
        afterEffect: true,
      });
    }, info);
    const deposit = testEnvelope('T', 'deposit');
    const first = handler(testDelivery(deposit));
    await expect(handler(testDelivery(deposit))).rejects.toBeInstanceOf(DeferredError);
    release();
    await expect(first).rejects.toThrow('result does not match');
    // The deferred copy comes back, and a client repeats the command: neither runs it again.
    for (let i = 0; i < 2; i++) {
      const again = await handler(testDelivery(deposit)).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(FailedAfterEffectError);
      expect(again).toBeInstanceOf(PermanentError); // dead-lettered, not retried
      expect(again).toMatchObject({
        name: 'CommandResultInvalidError',
        message: 'result does not match',
        messageId: deposit.messageId,
      });
    }
    expect(runs).toBe(1);
    // No result is taken for a kept failure, even a string that reads like one.
    const text = testEnvelope('T', 'text');
    await handler(testDelivery(text));
    expect(await handler(testDelivery(text))).toBe(' "failed after its effect: {}"');
  });

  it('dead-letters at once, naming the key, a duplicate whose kept outcome cannot be read; never runs it again', async () => {
    // A result that is not the JSON the deduplicator stores (damaged, or another writer's): its
    // SyntaxError was taken for a transient failure, redelivered until the key expired (a day).
    const store = new InMemoryDeduplicationStore();
    const queue = new InMemoryDeadLetterQueue();
    let runs = 0;
    const handler = compose(
      [
        deadLetter({ queue, onDeadLetter: () => undefined }),
        deduplicator({ store }),
        retry({ maxAttempts: 3, initialDelayMs: 1 }),
      ],
      async () => {
        runs++;
        return { ok: true };
      },
      info,
    );
    for (const kept of ['{"ok":tru', ' "failed after its effect: {\\"name"'] as const) {
      const envelope = testEnvelope('T', kept);
      const key = `test-group:${envelope.messageId}`;
      const claim = await store.claim(key, 60_000);
      if (claim.state !== 'claimed') throw new Error(`not claimed: ${claim.state}`);
      await store.complete(key, claim.token, 60_000, kept);

      expect(await handler(testDelivery(envelope))).toBeInstanceOf(DeadLettered);
      const letter = (await queue.list()).find((l) => l.envelope?.messageId === envelope.messageId);
      expect(letter).toMatchObject({ errorName: 'UnreadableOutcomeError', attempts: 1 });
      expect(letter!.reason).toContain(
        `message ${envelope.messageId} was handled once already, but the outcome the ` +
          `deduplication store keeps for it (key ${key}) cannot be read`,
      );
    }
    expect(runs).toBe(0);
  });

  it('leaves a handler registered as idempotent alone: every delivery runs, nothing is claimed', async () => {
    const store = new InMemoryDeduplicationStore();
    const handled: unknown[] = [];
    const handler = deduplicator({ store })(
      async (d) => {
        handled.push(d.envelope.data);
      },
      { ...info, idempotent: true },
    );
    const once = testEnvelope('T', 'once');
    await handler(testDelivery(once));
    await handler(testDelivery(once));
    expect(handled).toEqual(['once', 'once']);
    // The store never saw the message: a handler without the flag claims it at once.
    expect((await store.claim(`test-group:${once.messageId}`, 1_000)).state).toBe('claimed');
  });

  it('remembers a handled messageId for 24 h by default, then handles it again', async () => {
    jest.useFakeTimers({ now: new Date('2026-03-01T12:00:00.000Z') });
    try {
      const day = 24 * 60 * 60 * 1_000;
      let runs = 0;
      const handler = deduplicator({ store: new InMemoryDeduplicationStore() })(async () => {
        runs++;
      }, info);
      const once = testEnvelope('T', 'once');
      await handler(testDelivery(once));
      jest.setSystemTime(Date.now() + day - 1);
      await handler(testDelivery(once));
      expect(runs).toBe(1);
      jest.setSystemTime(Date.now() + 2);
      await handler(testDelivery(once));
      expect(runs).toBe(2);
    } finally {
      jest.useRealTimers();
    }
  });

  it('lets a claim expire when its holder died', async () => {
    const store = new InMemoryDeduplicationStore();
    expect((await store.claim('k', 20)).state).toBe('claimed');
    expect((await store.claim('k', 20)).state).toBe('busy');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect((await store.claim('k', 20)).state).toBe('claimed');
  });

  it('keeps its claim while a handling outlasts the lease: a duplicate meanwhile is deferred, not run', async () => {
    const store = new InMemoryDeduplicationStore();
    const runs: string[] = [];
    let release: () => void = () => undefined;
    // Renewed every 100 ms: a pause of the test process under 200 ms keeps the claim.
    const handler = deduplicator({ store, leaseMs: 300 })(async (d) => {
      runs.push(String(d.envelope.data));
      if (runs.length === 1) await new Promise<void>((resolve) => (release = resolve));
    }, info);
    const slow = testEnvelope('T', 'slow');
    const first = handler(testDelivery(slow));
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // three leases and more
    await expect(handler(testDelivery(slow))).rejects.toBeInstanceOf(DeferredError);
    release();
    await first;
    await handler(testDelivery(slow)); // done: answered, not run
    expect(runs).toEqual(['slow']);
    // And the renewals stopped with the handling: the done key is left as it was.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await store.claim(`test-group:${slow.messageId}`, 300)).toEqual({ state: 'done' });
  });

  it('keeps the outcome of a handling whose claim lapsed meanwhile; reports one another delivery took', async () => {
    let now = 1_000_000;
    const store = new InMemoryDeduplicationStore({ now: () => now });
    const runs: string[] = [];
    const lost: Array<{ handler: string; messageId: string }> = [];
    let duringHandling: () => Promise<void> = async () => undefined;
    const handler = deduplicator({ store, leaseMs: 60_000, onClaimLost: (e) => lost.push(e) })(
      async (d) => {
        runs.push(String(d.envelope.data));
        await duringHandling();
        return `${String(d.envelope.data)} #${runs.length}`;
      },
      info,
    );

    // The process paused past the lease (no renewal ran); nobody claimed the key meanwhile.
    const paused = testEnvelope('T', 'paused');
    duringHandling = async () => void (now += 120_000);
    expect(await handler(testDelivery(paused))).toBe('paused #1');
    duringHandling = async () => undefined;
    expect(await handler(testDelivery(paused))).toBe('paused #1'); // answered, not run again
    expect(runs).toEqual(['paused']);
    expect(lost).toEqual([]);

    // The lease lapsed and a redelivery claimed the key meanwhile: the outcome is not kept there.
    const taken = testEnvelope('T', 'taken');
    duringHandling = async () => {
      now += 120_000;
      expect((await store.claim(`test-group:${taken.messageId}`, 60_000)).state).toBe('claimed');
    };
    expect(await handler(testDelivery(taken))).toBe('taken #2');
    expect(lost).toEqual([{ handler: 'h', messageId: taken.messageId }]);
  });
  it('answers the handling done when its onClaimLost report throws (it was failed, and retried)', async () => {
    let now = 1_000_000;
    const store = new InMemoryDeduplicationStore({ now: () => now });
    const taken = testEnvelope('T', 'taken');
    let runs = 0;
    const handler = deduplicator({
      store,
      leaseMs: 60_000,
      onClaimLost: () => {
        throw new Error('log sink down');
      },
    })(async () => {
      runs++;
      now += 120_000; // paused past the lease; a redelivery claims the key meanwhile
      expect((await store.claim(`test-group:${taken.messageId}`, 60_000)).state).toBe('claimed');
      return 'done';
    }, info);
    await expect(handler(testDelivery(taken))).resolves.toBe('done');
    expect(runs).toBe(1);
  });
  it('reports a lost claim for a failure kept after its effect too, as for a result', async () => {
    let now = 1_000_000;
    const store = new InMemoryDeduplicationStore({ now: () => now });
    const lost: Array<{ handler: string; messageId: string }> = [];
    const taken = testEnvelope('T', 'taken');
    const handler = deduplicator({ store, leaseMs: 60_000, onClaimLost: (e) => lost.push(e) })(
      async () => {
        now += 120_000; // paused past the lease; a redelivery claims the key meanwhile
        expect((await store.claim(`test-group:${taken.messageId}`, 60_000)).state).toBe('claimed');
        throw Object.assign(new PermanentError('result does not match'), { afterEffect: true });
      },
      info,
    );
    await expect(handler(testDelivery(taken))).rejects.toThrow('result does not match');
    expect(lost).toEqual([{ handler: 'h', messageId: taken.messageId }]);
  });
  it('stores the outcome of a handling through a store down for most of a second (a failover)', async () => {
    // The retries of `complete` are said to span about a second and a half; they spanned 0.3 to
    // 0.6 s, so a Redis failover of a second kept the claim and warned, though it was brief.
    class DownFor extends InMemoryDeduplicationStore {
      private downUntil: number | undefined;
      constructor(private readonly ms: number) {
        super();
      }
      override async complete(key: string, token: string, ttlMs: number, result?: string) {
        this.downUntil ??= Date.now() + this.ms;
        if (Date.now() < this.downUntil) throw new Error('store down');
        return super.complete(key, token, ttlMs, result);
      }
    }
    const store = new DownFor(900);
    let runs = 0;
    const handle = deduplicator({ store })(async () => `reply #${++runs}`, info);
    const message = testEnvelope('T', 'failover');
    await expect(handle(testDelivery(message))).resolves.toBe('reply #1');
    // Stored: a duplicate is answered with the first handling's reply, not deferred.
    await expect(handle(testDelivery(message))).resolves.toBe('reply #1');
    expect(runs).toBe(1);
  });

  it('keeps a handling done when the store fails to complete it: tried again, else the claim is kept and a warning says so', async () => {
    /** An in-memory store whose `complete` fails (the store is down) the first `failures` times. */
    class FlakyStore extends InMemoryDeduplicationStore {
      constructor(public failures: number) {
        super();
      }
      override async complete(key: string, token: string, ttlMs: number, result?: string) {
        if (this.failures-- > 0) throw new Error('store down');
        return super.complete(key, token, ttlMs, result);
      }
    }
    // jest's sandboxed `process` does not relay 'warning' events: observe emitWarning itself.
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      let runs = 0;
      const handle = (store: FlakyStore, name: string) =>
        deduplicator({ store })(async () => `reply #${++runs}`, { ...info, name });

      // A failure that passes: the outcome is stored by a later attempt, a duplicate answered.
      const briefly = new FlakyStore(2);
      const once = testEnvelope('T', 'once');
      await expect(handle(briefly, 'brief')(testDelivery(once))).resolves.toBe('reply #1');
      await expect(handle(briefly, 'brief')(testDelivery(once))).resolves.toBe('reply #1');
      expect(runs).toBe(1);

      // A store down for good: the handling still succeeded, and its claim is not given up,
      // so a redelivery is deferred rather than run a second time at once.
      const down = new FlakyStore(Number.POSITIVE_INFINITY);
      const lost = testEnvelope('T', 'lost');
      await expect(handle(down, 'down')(testDelivery(lost))).resolves.toBe('reply #2');
      await expect(handle(down, 'down')(testDelivery(lost))).rejects.toBeInstanceOf(DeferredError);
      expect(runs).toBe(2);
      expect(emitWarning.mock.calls).toEqual([
        [
          expect.stringContaining(`message ${lost.messageId} was handled by down`),
          { type: 'CausewayDeduplicationWarning', code: 'CAUSEWAY_OUTCOME_NOT_STORED' },
        ],
      ]);
    } finally {
      emitWarning.mockRestore();
    }
  });
});
