import { Registry } from 'prom-client';
import { type Subscription } from '../event-store/event-store.port';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { InMemoryCheckpointStore } from '../outbox/checkpoint-store.port';
import { balances, deposit, poison, until, wait } from './balances.fixture';
import { ProjectionRunner } from './projection.runner';

// Orderings a review of the runner found wrong: concurrent checkpoint saves, waiters during a
// rebuild or after a silent position move, reports that throw.

/** Checkpoints that take their time, counting the saves in flight. */
class SlowCheckpoints extends InMemoryCheckpointStore {
  inFlight = 0;
  maxInFlight = 0;
  delays: number[] = [];
  override async save(name: string, position: number): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await wait(this.delays.shift() ?? 5);
    await super.save(name, position);
    this.inFlight--;
  }
}

/** Runs `body` with uncaught exceptions collected instead of failing the process. */
async function collectingUncaught(body: () => Promise<void>): Promise<unknown[]> {
  const uncaught: unknown[] = [];
  const listener = (error: unknown) => uncaught.push(error);
  const previous = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', listener);
  try {
    await body();
  } finally {
    process.removeListener('uncaughtException', listener);
    for (const l of previous) process.on('uncaughtException', l);
  }
  return uncaught;
}

describe('ProjectionRunner orderings', () => {
  it('saves one checkpoint at a time per projection', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10);
    const checkpoints = new SlowCheckpoints();
    checkpoints.delays = [30];
    const runner = new ProjectionRunner({ eventStore: store, checkpoints, pollIntervalMs: 2 });
    runner.start(balances().projection);
    await runner.whenCaughtUp();
    await deposit(store, 'acc-1', 20); // applied while the first save is in flight
    await wait(100);
    await runner.stop();
    expect(checkpoints.maxInFlight).toBe(1);
    expect(await checkpoints.load('balances')).toBe(2);
  });

  it('lets no save in flight land after rebuild() moved the checkpoint back', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10);
    const checkpoints = new SlowCheckpoints();
    checkpoints.delays = [30, 300]; // the second save is slow
    const runner = new ProjectionRunner({ eventStore: store, checkpoints, pollIntervalMs: 2 });
    const { projection, state } = balances();
    let gate = false;
    let open = () => {};
    const opened = new Promise<void>((resolve) => (open = resolve));
    const apply = projection.apply.bind(projection);
    projection.apply = async (event) => {
      if (gate) await opened; // the rebuild's replay has not got far yet
      await apply(event);
    };
    runner.start(projection);
    await runner.whenCaughtUp();
    await deposit(store, 'acc-1', 20);
    await wait(60);
    gate = true;
    await runner.rebuild('balances');
    expect(state.size).toBe(0); // emptied, nothing replayed yet
    await wait(400); // when the slow save would have landed
    // A restart now resumes from 0, not over an empty read model from position 2.
    expect(await checkpoints.load('balances')).toBe(0);
    open();
    await runner.whenCaughtUp('balances');
    expect(state.get('acc-1')).toBe(30);
    await runner.stop();
  });

  it('has waitFor wait while rebuild() empties the read model', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10, 20);
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 5,
    });
    const { projection, state } = balances();
    let release = () => {};
    let resetting = false;
    const reset = projection.reset!.bind(projection);
    projection.reset = async () => {
      reset();
      resetting = true;
      await new Promise<void>((resolve) => (release = resolve)); // a slow DELETE
    };
    runner.start(projection);
    await runner.whenCaughtUp();
    const rebuilt = runner.rebuild('balances');
    await until(() => resetting);
    const waited = runner.waitFor(2, { timeoutMs: 2_000 }).then(() => state.get('acc-1'));
    await wait(50);
    release();
    expect(await waited).toBe(30); // a read right after waitFor sees the rebuilt row
    await rebuilt;
    await runner.stop();
  });

  it('settles waitFor when the position moved without telling it, never throwing', async () => {
    const checkpoints = new InMemoryCheckpointStore();
    await checkpoints.save('p', 10);
    const load = checkpoints.load.bind(checkpoints);
    checkpoints.load = async (name) => {
      await wait(20);
      return load(name);
    };
    const eventStore = {
      subscribe(options: Parameters<InMemoryEventStore['subscribe']>[0]): Subscription {
        setTimeout(() => options.onError?.(new Error('store down')), 1);
        return { position: options.fromPosition ?? 0, stop: async () => {} };
      },
    };
    const runner = new ProjectionRunner({
      eventStore,
      checkpoints,
      onError: () => {},
      backoff: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    runner.start({ name: 'p', apply: () => {} });
    let outcome = '';
    const uncaught = await collectingUncaught(async () => {
      outcome = await Promise.race([
        runner.waitFor(5, { timeoutMs: 100 }).then(
          () => 'resolved',
          (error: Error) => `rejected: ${error.name}`,
        ),
        wait(500).then(() => 'never settled'),
      ]);
    });
    await runner.stop();
    expect({ outcome, uncaught: uncaught.map(String) }).toEqual({
      outcome: 'resolved',
      uncaught: [],
    });
  });

  it('survives an onProgress that throws', async () => {
    const store = new InMemoryEventStore();
    for (let i = 0; i < 5; i++) await deposit(store, `acc-${i}`, 1);
    const { projection } = balances();
    const apply = projection.apply.bind(projection);
    projection.apply = async (event) => {
      await wait(20);
      await apply(event);
    };
    let calls = 0;
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      checkpointIntervalMs: 5,
      progressIntervalMs: 1,
      onProgress: () => {
        calls++;
        throw new Error('log sink down');
      },
    });
    const uncaught = await collectingUncaught(async () => {
      runner.start(projection);
      await runner.whenCaughtUp();
    });
    await runner.stop();
    expect(calls).toBeGreaterThan(0);
    expect(uncaught.map(String)).toEqual([]);
  });

  it('counts a failing checkpoint save in causeway_projection_failures_total', async () => {
    const registry = new Registry();
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 1);
    const checkpoints = new InMemoryCheckpointStore();
    checkpoints.save = async () => {
      throw new Error('checkpoint store down');
    };
    const errors: unknown[] = [];
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints,
      registry,
      onError: (error) => errors.push(error),
    });
    runner.start(balances().projection);
    await runner.whenCaughtUp();
    await until(() => errors.length > 0);
    const metric = await registry.getSingleMetric('causeway_projection_failures_total')!.get();
    await runner.stop();
    expect(metric.values.reduce((sum, value) => sum + value.value, 0)).toBeGreaterThan(0);
  });
});

describe('ProjectionRunner checkpoint saves', () => {
  it('keep going after a failed save whose report threw', async () => {
    class FailOnce extends InMemoryCheckpointStore {
      failures = 1;
      override async save(name: string, position: number): Promise<void> {
        if (this.failures-- > 0) throw new Error('checkpoint store down');
        await super.save(name, position);
      }
    }
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10);
    const checkpoints = new FailOnce();
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints,
      pollIntervalMs: 2,
      onError: () => {
        throw new Error('log sink down');
      },
    });
    runner.start(balances().projection);
    await runner.whenCaughtUp();
    await wait(50);
    await deposit(store, 'acc-1', 20);
    await until(() => runner.status()[0]!.position === 2);
    await runner.stop();
    expect(await checkpoints.load('balances')).toBe(2);
  });

  it('keep the projection going when onError throws on a failing event', async () => {
    const store = new InMemoryEventStore();
    await deposit(store, 'acc-1', 10, 666, 20);
    let reports = 0;
    const runner = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 2,
      backoff: { initialDelayMs: 1, maxDelayMs: 2 },
      maxAttempts: 3,
      onSkipped: () => undefined,
      onError: () => {
        reports++;
        throw new Error('log sink down');
      },
    });
    const { projection, state } = balances('balances', poison);
    runner.start(projection);
    await runner.whenCaughtUp();
    await runner.stop();
    expect(reports).toBe(3);
    expect(state.get('acc-1')).toBe(30);
  });

  it('stops, and rebuilds, when asked while a skip() is saving its checkpoint', async () => {
    for (const ask of ['stop', 'rebuild'] as const) {
      const store = new InMemoryEventStore();
      await deposit(store, 'acc-1', 10, 666, 20);
      const checkpoints = new SlowCheckpoints();
      checkpoints.delays = [5, 200]; // the failed event's save, then the skip's (slow)
      const runner = new ProjectionRunner({
        eventStore: store,
        checkpoints,
        pollIntervalMs: 2,
        backoff: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
        onError: () => undefined,
        onSkipped: () => undefined,
      });
      const { projection, state } = balances('balances', poison);
      runner.start(projection);
      await until(() => runner.status()[0]!.failingAt !== undefined && checkpoints.inFlight === 0);
      runner.skip('balances', 2);
      await until(() => checkpoints.inFlight === 1); // the skip's save is in flight
      const asked = ask === 'stop' ? runner.stop() : runner.rebuild('balances');
      // Before, the loop subscribed again after that save without looking: stop() and
      // rebuild() waited for a loop that never ended.
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        asked.then(() => 'done'),
        new Promise((resolve) => (timer = setTimeout(resolve, 2_000, 'still waiting'))),
      ]);
      clearTimeout(timer);
      expect(outcome).toBe('done');
      // The rebuild replays from the start: up to the event still failing.
      if (ask === 'rebuild') await until(() => runner.status()[0]!.failingAt?.position === 2);
      expect(state.get('acc-1')).toBe(10);
      await runner.stop();
    }
  });
});
