import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { type CheckpointStore, InMemoryCheckpointStore } from '../outbox/checkpoint-store.port';
import { testEnvelope } from '../testing/envelope.fixture';
import { balances, deposit, until, wait } from './balances.fixture';
import { z } from 'zod';
import { messageType } from '../messages/message.type';
import { type Projection } from './projection.port';
import { ProjectionRunner } from './projection.runner';

describe('ProjectionRunner', () => {
  it('catches up from the start, follows the log, and skips the types it does not apply', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10, 20);
    await store.append('noise', [testEnvelope('Renamed', { to: 'x' })], {
      expectedVersion: 'no-stream',
    });
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 5,
    });
    const { projection, state, seen } = balances();
    runner.start(projection);
    await runner.whenCaughtUp();
    expect(state.get('acc-1')).toBe(30);
    expect(runner.status()[0]).toMatchObject({ name: 'balances', caughtUp: true, failures: 0 });
    await deposit(store, 'acc-2', 5);
    await until(() => state.get('acc-2') === 5);
    await runner.stop();
    expect(seen).toEqual(['acc-1@1', 'acc-1@2', 'acc-2@1']);
  });

  it('takes message types as its types, whose is() narrows the data in apply', async () => {
    const Deposited = messageType('Deposited', z.object({ amount: z.number() }));
    const Withdrawn = messageType('Withdrawn', z.object({ amount: z.number() }));
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10, 20);
    await store.append('acc-1', [testEnvelope('Withdrawn', { amount: 5 })], { expectedVersion: 2 });
    await store.append('noise', [testEnvelope('Renamed', { to: 'x' })], {
      expectedVersion: 'no-stream',
    });
    const state = new Map<string, number>();
    const seen: string[] = [];
    const projection: Projection = {
      name: 'typed',
      types: [Deposited, Withdrawn], // names and message types mix: [Deposited, 'Withdrawn']
      apply(event) {
        seen.push(event.type);
        // No cast: is() narrows event.data to { amount: number }.
        const change = Deposited.is(event)
          ? event.data.amount
          : Withdrawn.is(event)
            ? -event.data.amount
            : 0;
        state.set(event.streamId, (state.get(event.streamId) ?? 0) + change);
      },
    };
    // @ts-expect-error an object with a type is not a message type
    const wrong: Projection = { name: 'wrong', types: [{ type: 'Deposited' }], apply() {} };
    expect(wrong.name).toBe('wrong');
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 5,
    });
    runner.start(projection);
    await runner.whenCaughtUp();
    await runner.stop();
    expect(state.get('acc-1')).toBe(25);
    expect(seen).toEqual(['Deposited', 'Deposited', 'Withdrawn']);
  });

  it('saves its checkpoint on stop, and a new runner resumes after it', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    await deposit(store, 'acc-1', 10, 20);
    const first = new ProjectionRunner({ eventStore: store, checkpoints, pollIntervalMs: 5 });
    const before = balances();
    first.start(before.projection);
    await first.whenCaughtUp();
    await first.stop();
    const saved = await checkpoints.load('balances');
    expect(saved).toBeGreaterThanOrEqual(2);
    expect(first.status()[0]!.saved).toBe(saved);

    await deposit(store, 'acc-1', 5);
    const second = new ProjectionRunner({ eventStore: store, checkpoints, pollIntervalMs: 5 });
    const after = balances();
    second.start(after.projection);
    await second.whenCaughtUp();
    await second.stop();
    expect(after.seen).toEqual(['acc-1@3']);
  });

  it('saves the checkpoint while events flow, so a crash replays at most an interval', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints,
      pollIntervalMs: 5,
      checkpointIntervalMs: 20,
    });
    runner.start(balances().projection);
    await runner.whenCaughtUp();
    for (let i = 1; i <= 5; i++) await deposit(store, 'acc-1', i);
    // No stop(): what a process that dies now would have left.
    await until(() => runner.status()[0]!.saved >= 5);
    expect(await checkpoints.load('balances')).toBeGreaterThanOrEqual(5);
    await runner.stop();
  });

  it('retries a failing event after a backoff, from that event, and reports it meanwhile', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10, 20, 30);
    let broken = true;
    const errors: string[] = [];
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 5,
      backoff: { initialDelayMs: 10, maxDelayMs: 20 },
      unhealthyAfterFailures: 2,
      onError: (error, name) => errors.push(`${name}: ${(error as Error).message}`),
    });
    const { projection, state, seen } = balances('balances', (e) => broken && e.version === 2);
    const other = balances('audit');
    runner.start(projection).start(other.projection);
    await until(() => errors.length >= 2);
    const probe = runner.probe();
    await expect(probe.check()).rejects.toThrow(
      /balances is catching up .*balances failed \d+ times in a row: cannot apply acc-1@2/,
    );
    // The other projection goes on.
    await runner.whenCaughtUp('audit');
    expect(other.state.get('acc-1')).toBe(60);
    broken = false;
    await runner.whenCaughtUp('balances');
    await expect(probe.check()).resolves.toBeUndefined();
    expect(state.get('acc-1')).toBe(60);
    // Each event applied once: the failing one was retried, the ones before it not replayed.
    expect(seen).toEqual(['acc-1@1', 'acc-1@2', 'acc-1@3']);
    expect(runner.status().find((s) => s.name === 'balances')).toMatchObject({ failures: 0 });
    expect(errors[0]).toBe('balances: cannot apply acc-1@2');
    await runner.stop();
  });

  it('warns by default of a failing projection, naming it, where it stopped and why', async () => {
    // Observed, not replaced: jest's sandboxed `process` does not pass warnings to listeners.
    const warn = jest.spyOn(process, 'emitWarning');
    try {
      const store = new InMemoryEventStore();
      await deposit(store, 'acc-1', 10, 20);
      const runner = new ProjectionRunner({
        eventStore: store,
        checkpoints: new InMemoryCheckpointStore(),
        pollIntervalMs: 5,
        backoff: { initialDelayMs: 5, maxDelayMs: 10 },
      });
      const { projection } = balances('ledger', (e) => e.version === 2);
      runner.start(projection);
      await until(() => (runner.status()[0]?.failures ?? 0) >= 3);
      await runner.stop();
      const ours = warn.mock.calls.filter(
        ([, options]) => (options as { type?: string })?.type === 'CausewayProjectionWarning',
      );
      // Three failures or more, one warning: the rest within its 10 s are counted, not said.
      expect(ours.map(([message]) => String(message))).toEqual([
        'projection ledger failed after position 1 (1 failure(s) in a row): Error: cannot ' +
          'apply acc-1@2. It retries from there with backoff; status() and probe() name it',
      ]);
    } finally {
      warn.mockRestore();
    }
  });

  it('reports unhealthy while its checkpoint cannot be saved, though events apply, and healthy once one is saved', async () => {
    const store = new InMemoryEventStore();
    const saved = new InMemoryCheckpointStore();
    let down = false;
    const checkpoints: CheckpointStore = {
      load: (name) => saved.load(name),
      save: (name, position) =>
        down ? Promise.reject(new Error('store down')) : saved.save(name, position),
      reset: (name) => saved.reset(name),
    };
    const errors: string[] = [];
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints,
      pollIntervalMs: 5,
      checkpointIntervalMs: 5,
      unhealthyAfterFailures: 2,
      onError: (error, name) => errors.push(`${name}: ${(error as Error).message}`),
    });
    const { projection, state } = balances();
    runner.start(projection);
    await runner.whenCaughtUp();
    const probe = runner.probe();
    await expect(probe.check()).resolves.toBeUndefined();
    down = true;
    // Events keep coming and are applied (which clears the failures of applying): only the
    // saves fail, and a restart would replay everything since the last one.
    for (let i = 1; i <= 3; i++) {
      await deposit(store, `acc-${i}`, i);
      await until(() => state.get(`acc-${i}`) === i);
    }
    await until(() => errors.length >= 2);
    await expect(probe.check()).rejects.toThrow(
      /balances failed to save its checkpoint \d+ times in a row: store down/,
    );
    expect(runner.status()[0]).toMatchObject({ saved: 0 });
    down = false;
    await until(() => runner.status()[0]!.saved === runner.status()[0]!.position);
    await expect(probe.check()).resolves.toBeUndefined();
    await runner.stop();
  });

  it('keeps trying to load its checkpoint while the store is down', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10);
    const saved = new InMemoryCheckpointStore();
    let down = true;
    const checkpoints: CheckpointStore = {
      load: (name) => (down ? Promise.reject(new Error('store down')) : saved.load(name)),
      save: (name, position) => saved.save(name, position),
      reset: (name) => saved.reset(name),
    };
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints,
      pollIntervalMs: 5,
      backoff: { initialDelayMs: 5, maxDelayMs: 10 },
    });
    const { projection, state } = balances();
    runner.start(projection);
    await until(() => runner.status()[0]!.failures >= 2);
    expect(state.size).toBe(0);
    down = false;
    await runner.whenCaughtUp();
    expect(state.get('acc-1')).toBe(10);
    await runner.stop();
  });

  it('refuses a second projection of the same name, and starts after stop', async () => {
    const runner = new ProjectionRunner({
      eventStore: new InMemoryEventStore(),
      checkpoints: new InMemoryCheckpointStore(),
    });
    runner.start(balances().projection);
    expect(() => runner.start(balances().projection)).toThrow(
      'ProjectionRunner: projection balances runs already',
    );
    await runner.stop();
    expect(() => runner.start(balances('later').projection)).toThrow(/stopped/);
    await expect(runner.whenCaughtUp('nope')).rejects.toThrow(
      'ProjectionRunner: no projection nope',
    );
  });

  it('stops promptly while waiting out a backoff', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10);
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 5,
      backoff: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    runner.start(balances('stuck', () => true).projection);
    await until(() => runner.status()[0]!.failures === 1);
    const started = Date.now();
    await runner.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('stops promptly when stop() comes while a failure is being recorded or the checkpoint loaded', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10);
    const saved = new InMemoryCheckpointStore();
    const slow: CheckpointStore = {
      load: async (name) => {
        await wait(100);
        return saved.load(name);
      },
      save: async (name, position) => {
        await wait(300);
        return saved.save(name, position);
      },
      reset: (name) => saved.reset(name),
    };
    const backoff = { initialDelayMs: 60_000, maxDelayMs: 60_000 };
    // stop() while the failed event's checkpoint is being saved.
    await deposit(store, 'acc-1', 20);
    const poisoned = new ProjectionRunner({ eventStore: store, checkpoints: slow, backoff });
    // The first event applies, the second fails: the position to save is past the saved one.
    poisoned.start(balances('poisoned', (event) => event.version === 2).projection);
    await until(() => poisoned.status()[0]!.failures === 1);
    let started = Date.now();
    await poisoned.stop();
    expect(Date.now() - started).toBeLessThan(2_000);
    // stop() while a failing checkpoint load is in flight.
    const down: CheckpointStore = {
      load: () => wait(200).then(() => Promise.reject(new Error('store down'))),
      save: () => Promise.resolve(),
      reset: () => Promise.resolve(),
    };
    const starting = new ProjectionRunner({ eventStore: store, checkpoints: down, backoff });
    starting.start(balances().projection);
    await wait(50);
    started = Date.now();
    await starting.stop();
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(starting.whenCaughtUp()).rejects.toThrow(
      'ProjectionRunner: stopped before balances caught up',
    );
  });

  it('refuses options out of range when it is built, naming them', () => {
    const base = {
      eventStore: new InMemoryEventStore(),
      checkpoints: new InMemoryCheckpointStore(),
    };
    for (const [options, named] of [
      [{ batchSize: 0 }, 'batchSize'],
      [{ batchSize: 1.5 }, 'batchSize'],
      [{ pollIntervalMs: 0 }, 'pollIntervalMs'],
      [{ checkpointIntervalMs: -1 }, 'checkpointIntervalMs'],
      [{ backoff: { maxDelayMs: Infinity } }, 'backoff.maxDelayMs'],
      [{ unhealthyAfterFailures: 0 }, 'unhealthyAfterFailures'],
    ] as const)
      expect(() => new ProjectionRunner({ ...base, ...options })).toThrow(
        new RegExp(`^ProjectionRunner: ${named.replace('.', '\\.')} must be a positive`),
      );
  });

  it('refuses a projection it cannot run when it is started, naming what is wrong', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10);
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 2,
      onError: () => undefined,
    });
    const apply = () => undefined;
    // Before, start() took each of these and the projection then failed in the background for
    // ever (a name the checkpoint store refuses, retried with backoff), or died after one warning
    // (types the subscription refuses, e.g. a message type imported as undefined), or spread a
    // string into one-letter types and applied nothing: whenCaughtUp() never resolved.
    for (const [projection, named] of [
      [{ name: '', apply }, 'projection.name must be a non-empty string, got ""'],
      [{ name: 'balances' }, 'projection.apply must be a function, got undefined'],
      [{ name: 'balances', apply, types: [undefined] }, 'got undefined at index 0'],
      [{ name: 'balances', apply, types: 'Deposited' }, 'projection.types must be an array'],
      [{ name: 'balances', apply, reset: 'all' }, 'projection.reset must be a function'],
    ] as const)
      expect(() => runner.start(projection as unknown as Projection)).toThrow(
        expect.objectContaining({ name: 'TypeError', message: expect.stringContaining(named) }),
      );
    expect(runner.status()).toEqual([]);
    const { projection, state } = balances();
    runner.start(projection); // the name was not taken by a refused start
    await runner.whenCaughtUp();
    expect(state.get('acc-1')).toBe(10);
    await runner.stop();
  });
});

describe('ProjectionRunner stopped by its own projection', () => {
  it('resolves runner.stop() awaited inside apply ("read until X"), and applies nothing after', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 1, 2, 3);
    const checkpoints = new InMemoryCheckpointStore();
    const runner = new ProjectionRunner({ eventStore: store, checkpoints, pollIntervalMs: 5 });
    const applied: number[] = [];
    let stopped = false;
    runner.start({
      name: 'until',
      types: ['Deposited'],
      async apply(event) {
        applied.push(event.version);
        if (event.version === 2) {
          await runner.stop();
          stopped = true;
        }
      },
      reset() {},
    });
    await until(() => stopped);
    // From outside, stop() waits for the runner to have stopped: the event counted as applied.
    await runner.stop();
    expect(applied).toEqual([1, 2]);
  });
});
