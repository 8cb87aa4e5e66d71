import { Registry } from 'prom-client';
import { ChecksumMismatchError } from '../messages/message.errors';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { InMemoryCheckpointStore } from '../outbox/checkpoint-store.port';
import { testEnvelope } from '../testing/envelope.fixture';
import { balances, deposit, poison, until, wait } from './balances.fixture';
import { ProjectionWaitTimeoutError } from './projection.errors';
import { type ProjectionStatus, ProjectionRunner, type SkippedEvent } from './projection.runner';

// What an operator does with a running projection: rebuild it, give up on an event, watch it.

const backoff = { initialDelayMs: 60_000, maxDelayMs: 60_000 };

describe('ProjectionRunner.rebuild', () => {
  it('replays the whole log into an emptied read model, then follows the log again', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    await deposit(store, 'acc-1', 10, 20);
    await deposit(store, 'acc-2', 5);
    const runner = new ProjectionRunner({ eventStore: store, checkpoints, pollIntervalMs: 5 });
    const { projection, state, seen } = balances();
    runner.start(projection);
    await runner.whenCaughtUp();
    state.set('acc-1', 999); // a bug wrote a wrong balance
    state.set('ghost', 1); // and a row no event explains

    await runner.rebuild('balances');
    await runner.whenCaughtUp('balances');
    expect(Object.fromEntries(state)).toEqual({ 'acc-1': 30, 'acc-2': 5 });
    expect(seen).toEqual(['acc-1@1', 'acc-1@2', 'acc-2@1', 'acc-1@1', 'acc-1@2', 'acc-2@1']);
    expect(runner.status()[0]).toMatchObject({ caughtUp: true, rebuilding: false, applied: 6 });
    await deposit(store, 'acc-2', 7);
    await until(() => state.get('acc-2') === 12);
    await runner.stop();
    expect(await checkpoints.load('balances')).toBe(4);
  });

  it('shows the rebuild in status() and probe() until it has caught up', async () => {
    const store = new InMemoryEventStore();
    for (let i = 0; i < 20; i++) await deposit(store, `acc-${i}`, 1);
    let slow = false;
    const { projection } = balances();
    const apply = projection.apply.bind(projection);
    projection.apply = async (event) => {
      if (slow) await wait(10);
      await apply(event);
    };
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 5,
      checkpointIntervalMs: 5,
    });
    runner.start(projection);
    await runner.whenCaughtUp();
    slow = true;
    await runner.rebuild('balances');
    expect(runner.status()[0]).toMatchObject({ rebuilding: true, caughtUp: false });
    await expect(runner.probe().check()).rejects.toThrow('balances is rebuilding');
    await runner.whenCaughtUp('balances');
    expect(runner.status()[0]).toMatchObject({ rebuilding: false, caughtUp: true, position: 20 });
    await expect(runner.probe().check()).resolves.toBeUndefined();
    await runner.stop();
  });

  it('refuses a projection without reset(), or one it does not run, and changes nothing', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    await deposit(store, 'acc-1', 10);
    const runner = new ProjectionRunner({ eventStore: store, checkpoints, pollIntervalMs: 5 });
    const { projection } = balances();
    delete projection.reset;
    runner.start(projection);
    await runner.whenCaughtUp();
    await runner.stop();
    await expect(runner.rebuild('balances')).rejects.toThrow(
      'projection balances has no reset(): a rebuild replays the log into an empty read model',
    );
    await expect(runner.rebuild('other')).rejects.toThrow('no projection other');
    expect(await checkpoints.load('balances')).toBe(1);
  });

  it('moves the checkpoint back before it empties the read model, and goes on when that fails', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    await deposit(store, 'acc-1', 10);
    const runner = new ProjectionRunner({ eventStore: store, checkpoints, pollIntervalMs: 5 });
    const { projection, state } = balances();
    let checkpointAtReset: number | undefined;
    projection.reset = async () => {
      checkpointAtReset = await checkpoints.load('balances');
      throw new Error('read model unreachable');
    };
    runner.start(projection);
    await runner.whenCaughtUp();
    await expect(runner.rebuild('balances')).rejects.toThrow('read model unreachable');
    expect(checkpointAtReset).toBe(0);
    // Not rebuilt, but not stopped either: it replays over the old rows (apply ignores them).
    expect(runner.status()[0]!.rebuilding).toBe(false);
    await deposit(store, 'acc-1', 5);
    await until(() => state.get('acc-1') === 15);
    await runner.stop();
  });

  it('returns the rebuild in progress to a second call, and stop() waits for it', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10);
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 5,
    });
    const { projection } = balances();
    let resets = 0;
    projection.reset = () => wait(50).then(() => void resets++);
    runner.start(projection);
    await runner.whenCaughtUp();
    const first = runner.rebuild('balances');
    expect(runner.rebuild('balances')).toBe(first);
    const caughtUp = runner.whenCaughtUp('balances');
    await runner.stop();
    await first;
    expect(resets).toBe(1);
    await expect(caughtUp).rejects.toThrow('stopped before balances caught up');
  });
});

describe('ProjectionRunner: an event that keeps failing', () => {
  it('is given up on after maxAttempts; the next events apply and a restart does not retry it', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    await deposit(store, 'acc-1', 10, 666, 20);
    const skipped: SkippedEvent[] = [];
    const options = {
      eventStore: store,
      checkpoints,
      pollIntervalMs: 5,
      backoff: { initialDelayMs: 1, maxDelayMs: 2 },
      maxAttempts: 3,
      onError: () => undefined,
      onSkipped: (event: SkippedEvent, error: unknown) => {
        skipped.push(event);
        expect((error as Error).message).toBe('cannot apply acc-1@2');
      },
    };
    const runner = new ProjectionRunner(options);
    const { projection, state } = balances('balances', poison);
    runner.start(projection);
    await runner.whenCaughtUp();
    expect(state.get('acc-1')).toBe(30);
    expect(skipped).toEqual([
      {
        position: 2,
        streamId: 'acc-1',
        version: 2,
        type: 'Deposited',
        messageId: expect.any(String),
        attempts: 3,
      },
    ]);
    expect(runner.status()[0]).toMatchObject({ skipped: 1, failures: 0, applied: 2 });
    expect(runner.status()[0]!.failingAt).toBeUndefined();
    await runner.stop();

    const again = balances('balances', poison);
    const restarted = new ProjectionRunner(options);
    restarted.start(again.projection);
    await restarted.whenCaughtUp();
    await restarted.stop();
    expect(again.seen).toEqual([]);
    expect(skipped).toHaveLength(1);
  });

  it('waits on it without maxAttempts, until skip() gives up on it (cutting a backoff short)', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10, 666, 20);
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 5,
      backoff,
      onError: () => undefined,
      onSkipped: () => undefined,
    });
    const { projection, state } = balances('balances', poison);
    expect(() => runner.skip('balances')).toThrow('no projection balances');
    runner.start(projection);
    await until(() => runner.status()[0]!.failingAt !== undefined);
    expect(runner.status()[0]).toMatchObject({
      failingAt: { position: 2, streamId: 'acc-1', version: 2, attempts: 1 },
      caughtUp: false,
    });
    expect(() => runner.skip('balances', 3)).toThrow(
      'projection balances is not failing on the event at position 3 (it fails at position 2)',
    );
    expect(runner.skip('balances', 2)).toMatchObject({ position: 2, version: 2 });
    await runner.whenCaughtUp();
    expect(state.get('acc-1')).toBe(30);
    expect(() => runner.skip('balances')).toThrow('projection balances is not failing on an event');
    await runner.stop();
  });

  it('gives up on an event the store cannot read, and warns of it by default', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10, 20, 30);
    const record = store.storage.log[1]!;
    record.serialized = { ...record.serialized, data: '{"amount":2000}' }; // checksum mismatch
    const warnings: string[] = [];
    const emit = jest.spyOn(process, 'emitWarning').mockImplementation(((
      message: string,
      options: { code?: string },
    ) => {
      if (options?.code === 'CAUSEWAY_PROJECTION_SKIPPED') warnings.push(message);
    }) as typeof process.emitWarning);
    try {
      const errors: unknown[] = [];
      const runner = new ProjectionRunner({
        eventStore: store,
        checkpoints: new InMemoryCheckpointStore(),
        pollIntervalMs: 5,
        backoff: { initialDelayMs: 1, maxDelayMs: 2 },
        maxAttempts: 2,
        onError: (error) => errors.push(error),
      });
      const { projection, state } = balances();
      runner.start(projection);
      await runner.whenCaughtUp();
      await runner.stop();
      expect(state.get('acc-1')).toBe(40);
      expect(errors).toHaveLength(2);
      expect(errors[0]).toBeInstanceOf(ChecksumMismatchError);
      expect(warnings).toEqual([
        expect.stringMatching(
          /^projection balances gave up on the event at position 2 \(stream acc-1, version 2, type undefined\) after 2 attempt\(s\): ChecksumMismatchError: .*Its read model lacks that event$/,
        ),
      ]);
    } finally {
      emit.mockRestore();
    }
  });
});

describe('ProjectionRunner: progress and metrics', () => {
  it('reports the progress of a catch-up, with how far behind the log it is', async () => {
    const store = new InMemoryEventStore();
    for (let i = 0; i < 30; i++) await deposit(store, `acc-${i}`, 1);
    await wait(30); // the events are at least 30 ms old
    const progress: ProjectionStatus[] = [];
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 5,
      checkpointIntervalMs: 5,
      progressIntervalMs: 20,
      batchSize: 5,
      onProgress: (status) => progress.push(status),
    });
    const { projection } = balances();
    const apply = projection.apply.bind(projection);
    projection.apply = async (event) => {
      await wait(3);
      await apply(event);
    };
    runner.start(projection);
    await runner.whenCaughtUp();
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toMatchObject({ name: 'balances', caughtUp: false });
    expect(progress[0]!.applied).toBeGreaterThan(0);
    expect(progress[0]!.behindMs).toBeGreaterThanOrEqual(30);
    const count = progress.length;
    expect(runner.status()[0]).toMatchObject({ caughtUp: true, behindMs: 0, applied: 30 });
    await wait(60);
    expect(progress).toHaveLength(count); // none once caught up
    await runner.stop();
  });

  it("counts a projection stuck on an event, after it caught up, behind by that event's age", async () => {
    const store = new InMemoryEventStore();
    const registry = new Registry();
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 5,
      backoff,
      registry,
      onError: () => undefined,
    });
    runner.start(balances('balances', poison).projection);
    await runner.whenCaughtUp();
    // An event a minute old (appended while the projection was away, or by a writer's clock) that
    // apply refuses: the projection has caught up once, and now lacks it. It showed 0 s behind.
    const minuteAgo = new Date(Date.now() - 60_000).toISOString();
    await store.append(
      'acc-1',
      [testEnvelope('Deposited', { amount: 666 }, { metadata: { timestamp: minuteAgo } })],
      { expectedVersion: 'no-stream' },
    );
    await until(() => runner.status()[0]!.failures > 0);
    expect(runner.status()[0]).toMatchObject({ caughtUp: true, position: 0 });
    expect(runner.status()[0]!.behindMs).toBeGreaterThanOrEqual(60_000);
    const behind = /causeway_projection_behind_seconds\{projection="balances"\} (\S+)/.exec(
      await registry.metrics(),
    );
    expect(Number(behind?.[1])).toBeGreaterThanOrEqual(60);
    // Given up on: nothing is pending, and the end of the log is reached again.
    runner.skip('balances');
    await until(() => runner.status()[0]!.skipped === 1 && runner.status()[0]!.behindMs === 0);
    await runner.stop();
  });

  it('registers its metrics, shared by runners of one registry', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10, 666, 20);
    const registry = new Registry();
    const common = {
      eventStore: store,
      pollIntervalMs: 5,
      registry,
      onError: () => undefined,
      onSkipped: () => undefined,
    };
    const first = new ProjectionRunner({
      ...common,
      checkpoints: new InMemoryCheckpointStore(),
      maxAttempts: 1,
    });
    const second = new ProjectionRunner({ ...common, checkpoints: new InMemoryCheckpointStore() });
    first.start(balances('skipping', poison).projection);
    second.start(balances('all').projection);
    await Promise.all([first.whenCaughtUp(), second.whenCaughtUp()]);
    const text = await registry.metrics();
    expect(text).toContain('causeway_projection_position{projection="skipping"} 3');
    expect(text).toContain('causeway_projection_position{projection="all"} 3');
    expect(text).toContain('causeway_projection_caught_up{projection="all"} 1');
    expect(text).toContain('causeway_projection_behind_seconds{projection="all"} 0');
    expect(text).toContain('causeway_projection_skipped_total{projection="skipping"} 1');
    expect(text).toContain('causeway_projection_failures_total{projection="skipping"} 1');
    expect(text).toContain('causeway_projection_apply_duration_seconds_count{projection="all"} 3');
    await first.stop();
    expect(await registry.metrics()).not.toContain('projection="skipping"} 3');
    await second.stop();
  });
});

describe('ProjectionRunner.waitFor', () => {
  it('resolves once the read model has the events up to a position: read your own writes', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10);
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 20,
      checkpointIntervalMs: 60_000, // not what moves the position a waiter sees
    });
    const { projection, state } = balances();
    let slow = false;
    const apply = projection.apply.bind(projection);
    projection.apply = async (event) => {
      if (slow) await wait(30);
      await apply(event);
    };
    runner.start(projection);
    await runner.whenCaughtUp();
    await runner.waitFor(1); // reached already: at once
    slow = true;
    const { positions } = await store.append(
      'acc-1',
      [testEnvelope('Deposited', { amount: 5 }, { aggregateId: 'acc-1' })],
      { expectedVersion: 1 },
    );
    expect(state.get('acc-1')).toBe(10); // a read right after the write is stale...
    await runner.waitFor(positions.at(-1)!, { name: 'balances' });
    expect(state.get('acc-1')).toBe(15); // ...one after waitFor is not
    await runner.stop();
  });

  it('times out naming where the projection is and what it fails on', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10, 666);
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 5,
      backoff,
      onError: () => undefined,
    });
    runner.start(balances('balances', poison).projection);
    const error = await runner.waitFor(2, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProjectionWaitTimeoutError);
    expect((error as Error).message).toBe(
      'projection balances had not reached position 2 within 100 ms (it is at 1; it fails: ' +
        'cannot apply acc-1@2)',
    );
    const pending = runner.waitFor(2);
    await runner.stop();
    await expect(pending).rejects.toThrow('ProjectionRunner: stopped');
    await expect(runner.waitFor(1.5)).rejects.toThrow(
      'position must be a non-negative integer, got 1.5',
    );
    await expect(runner.waitFor(1, { name: 'other' })).rejects.toThrow('no projection other');
  });
});
