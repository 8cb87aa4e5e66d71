import { type Envelope } from '../messages/envelope';
import { InMemoryCheckpointStore } from '../outbox/checkpoint-store.port';
import { EventForwarder } from '../outbox/event.forwarder';
import { testEnvelope } from '../testing/envelope.fixture';
import { InMemoryEventStore } from './in-memory/in-memory.event-store';
import { RETENTION_WARNING, RetentionJob } from './retention.job';

/** An event store whose retention always fails, as one whose disk is full. */
class FailingStore extends InMemoryEventStore {
  override async applyRetention(): Promise<number> {
    throw new Error('disk full');
  }
}

describe('RetentionJob', () => {
  it('applies the policy periodically until stopped, reporting what it removed', async () => {
    const store = new InMemoryEventStore();
    for (let i = 0; i < 5; i++)
      await store.append('orders-1', [testEnvelope('Placed', { i })], { expectedVersion: i });
    const removed: number[] = [];
    const job = new RetentionJob({
      store,
      policy: { maxCount: 2 },
      intervalMs: 20,
      onRun: (n) => removed.push(n),
    });
    job.start();
    const deadline = Date.now() + 5_000;
    while (removed.length < 2 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
    await job.stop();
    expect(removed[0]).toBe(3);
    expect(removed.slice(1).every((n) => n === 0)).toBe(true);
    expect((await store.readStream('orders-1')).map((e) => e.data)).toEqual([{ i: 3 }, { i: 4 }]);
    const runs = removed.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(removed).toHaveLength(runs); // stopped
  });

  it('reports a failing run and keeps going', async () => {
    const errors: unknown[] = [];
    // A store whose retention fails, as a full disk or a lost connection would make it.
    const job = new RetentionJob({
      store: new FailingStore(),
      policy: { maxAgeMs: 1 },
      onError: (e) => errors.push(e),
    });
    await job.runOnce();
    await job.runOnce();
    expect(errors.map((e) => (e as Error).message)).toEqual(['disk full', 'disk full']);
  });

  it('warns of a failing run when no onError is given, naming the error, instead of saying nothing', async () => {
    // Observed, not replaced: jest's sandboxed `process` does not pass warnings to listeners.
    const warn = jest.spyOn(process, 'emitWarning');
    const ours = () =>
      warn.mock.calls.filter(
        ([, options]) => (options as { type?: string } | undefined)?.type === RETENTION_WARNING,
      );
    try {
      const store = new InMemoryEventStore();
      await store.append('orders-1', [testEnvelope('Placed', { i: 0 })], { expectedVersion: 0 });
      // A checkpoint store that answers nonsense: every run fails, and the log grows for ever.
      const job = new RetentionJob({
        store,
        policy: { maxCount: 0 },
        processedUpTo: async () => -1,
      });
      await job.runOnce();
      expect(ours()).toEqual([
        [
          'event store retention failed (policy {"maxCount":0}): TypeError: processedUpTo() must ' +
            'resolve to a position (a non-negative integer) or Infinity (no reader), got -1. The ' +
            'run stopped there; the next one tries again. Pass onError to report it your way',
          { type: RETENTION_WARNING, code: 'CAUSEWAY_RETENTION_FAILED' },
        ],
      ]);
      expect(await store.readStream('orders-1')).toHaveLength(1);
    } finally {
      warn.mockRestore();
    }
  });

  it('keeps running, and warns, when its onError hook fails too (no rejection from the timer)', async () => {
    const warn = jest.spyOn(process, 'emitWarning');
    try {
      let reported = 0;
      const job = new RetentionJob({
        store: new FailingStore(),
        policy: { maxAgeMs: 1 },
        onError: () => {
          reported++;
          throw new Error('log sink down');
        },
      });
      // The timer calls runOnce without awaiting it: a rejection here would end the process.
      await expect(job.runOnce()).resolves.toBeUndefined();
      await expect(job.runOnce()).resolves.toBeUndefined();
      expect(reported).toBe(2);
      expect(
        warn.mock.calls.filter(([, o]) => (o as { type?: string })?.type === RETENTION_WARNING),
      ).toEqual(
        [1, 2].map(() => [
          'event store retention failed (policy {"maxAgeMs":1}): Error: disk full. The run ' +
            'stopped there; the next one tries again. onError failed on it too: Error: log sink down',
          { type: RETENTION_WARNING, code: 'CAUSEWAY_RETENTION_FAILED' },
        ]),
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('warns, with no unhandled rejection, when its onError hook is async and rejects', async () => {
    const warn = jest.spyOn(process, 'emitWarning');
    try {
      const job = new RetentionJob({
        store: new FailingStore(),
        policy: { maxAgeMs: 1 },
        // An async log sink: its rejection nobody awaited ended the process.
        onError: async () => {
          throw new Error('log sink down');
        },
      });
      await job.runOnce();
      const expected = [
        'event store retention failed (policy {"maxAgeMs":1}): Error: disk full. The run ' +
          'stopped there; the next one tries again. onError failed on it too: Error: log sink down',
        { type: RETENTION_WARNING, code: 'CAUSEWAY_RETENTION_FAILED' },
      ];
      const ours = () =>
        warn.mock.calls.filter(([, o]) => (o as { type?: string })?.type === RETENTION_WARNING);
      for (let turn = 0; turn < 10 && ours().length === 0; turn++) await Promise.resolve();
      expect(ours()).toEqual([expected]);
    } finally {
      warn.mockRestore();
    }
  });

  it('removes nothing the outbox forwarder has not published, when told where it got to', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const published: Envelope[] = [];
    const forwarder = new EventForwarder({
      store,
      checkpoints,
      publisher: {
        publish: async (_, messages) => void published.push(...messages),
        close: async () => undefined,
      },
      topicOf: (e) => `events.${e.type}`,
    });
    const old = new Date(Date.now() - 60_000).toISOString();
    const append = (i: number) =>
      store.append(
        'orders-1',
        [{ ...testEnvelope('Placed', { i }), metadata: { timestamp: old } }],
        {
          expectedVersion: i,
        },
      );
    await append(0);
    await forwarder.forwardOnce();
    for (let i = 1; i <= 3; i++) await append(i);
    const runs: number[] = [];
    const job = new RetentionJob({
      store,
      policy: { maxAgeMs: 10 },
      processedUpTo: () => checkpoints.load('forwarder'),
      onRun: (removed) => runs.push(removed),
    });
    await job.runOnce();
    // Only the event the forwarder had published went; the three after it reach the bus.
    expect(runs).toEqual([1]);
    await forwarder.forwardOnce();
    expect(published.map((e) => e.data)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
    await job.runOnce();
    expect(runs).toEqual([1, 3]);
  });

  it('runs the policy as it is when there is no reader to wait for (the lowest of no checkpoints)', async () => {
    const store = new InMemoryEventStore();
    await store.append('orders-1', [testEnvelope('Placed', { i: 0 })], { expectedVersion: 0 });
    const errors: unknown[] = [];
    const runs: number[] = [];
    await new RetentionJob({
      store,
      policy: { maxCount: 0 },
      processedUpTo: async () => Math.min(...([] as number[])),
      onRun: (removed) => runs.push(removed),
      onError: (e) => errors.push(e),
    }).runOnce();
    expect(errors).toEqual([]);
    expect(runs).toEqual([1]);
  });

  it('skips a run when it cannot tell where the readers got to, and says why', async () => {
    const store = new InMemoryEventStore();
    await store.append('orders-1', [testEnvelope('Placed', { i: 0 })], { expectedVersion: 0 });
    const errors: string[] = [];
    // What processedUpTo answered is named, not the maxPosition the job made of it (which the
    // policy never set): NaN is Math.min over a checkpoint that came back undefined, "7" one
    // read as text from Redis (Math.min took it for 7), 2.5 a computed position.
    for (const processedUpTo of [
      async () => {
        throw new Error('checkpoint store down');
      },
      async () => Number.NaN,
      async () => Math.min(3, undefined as unknown as number),
      async () => '7' as unknown as number,
      async () => 2.5,
      async () => -Infinity,
    ])
      for (const policy of [{ maxCount: 0 }, { maxCount: 0, maxPosition: 10 }])
        await new RetentionJob({
          store,
          policy,
          processedUpTo,
          onError: (e) => errors.push(`${(e as Error).name}: ${(e as Error).message}`),
        }).runOnce();
    const refused = (got: string) =>
      'TypeError: processedUpTo() must resolve to a position (a non-negative integer) or ' +
      `Infinity (no reader), got ${got}`;
    expect(errors).toEqual(
      ['checkpoint store down', 'NaN', 'NaN', '"7"', '2.5', '-Infinity'].flatMap((got) =>
        Array(2).fill(got === 'checkpoint store down' ? `Error: ${got}` : refused(got)),
      ),
    );
    expect(await store.readStream('orders-1')).toHaveLength(1);
  });

  it('refuses a malformed policy or interval when created, naming it', () => {
    const store = new InMemoryEventStore();
    const create = (options: object) => () => new RetentionJob({ store, policy: {}, ...options });
    expect(create({ policy: { maxAgeMs: NaN } })).toThrow(/maxAgeMs must be .*, got NaN/);
    expect(create({ policy: { maxCount: -2 } })).toThrow(/maxCount must be .*, got -2/);
    expect(create({ intervalMs: NaN })).toThrow(/intervalMs must be .*, got NaN/);
    expect(create({ intervalMs: 0 })).toThrow(/intervalMs must be .*, got 0/);
    expect(create({ policy: { maxCount: 0 }, intervalMs: 1 })).not.toThrow();
  });
});
