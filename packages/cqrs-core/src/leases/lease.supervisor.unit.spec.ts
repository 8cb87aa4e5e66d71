import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { type Envelope } from '../messages/envelope';
import { MessageFactory } from '../messages/message.factory';
import { InMemoryCheckpointStore } from '../outbox/checkpoint-store.port';
import { EventForwarder } from '../outbox/event.forwarder';
import { ProjectionRunner } from '../projections/projection.runner';
import { type Publisher } from '../transport/transport.port';
import { InMemoryLease, type InMemoryLeaseTable } from './in-memory.lease';
import { type Lease } from './lease.port';
import { LeaseSupervisor } from './lease.supervisor';

/** A publisher that keeps what it was given, per instance. */
class RecordingPublisher implements Publisher {
  readonly published: Envelope[] = [];
  async publish(_topic: string, messages: readonly Envelope[]): Promise<void> {
    this.published.push(...messages);
  }
  async close(): Promise<void> {}
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const factory = new MessageFactory();
const append = (store: InMemoryEventStore, n: number) =>
  store.append(
    `s-${Math.random()}`,
    Array.from({ length: n }, () => factory.event('Happened', {})),
    { expectedVersion: 'no-stream' },
  );

describe('LeaseSupervisor over an EventForwarder', () => {
  function instance(
    store: InMemoryEventStore,
    checkpoints: InMemoryCheckpointStore,
    lease?: Lease,
  ) {
    const publisher = new RecordingPublisher();
    const forwarder = new EventForwarder({
      store,
      publisher,
      checkpoints,
      topicOf: (event) => `events.${event.type}`,
      pollIntervalMs: 5,
    });
    const supervisor = new LeaseSupervisor({
      lease,
      start: () => forwarder.start(),
      stop: () => forwarder.stop(),
      renewEveryMs: 20,
    });
    return { publisher, supervisor };
  }

  it('forwards on one instance at a time, and the other takes over when it stops', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const table: InMemoryLeaseTable = new Map();
    // A lease far longer than a stall of this process: only a's stop hands it over.
    const a = instance(store, checkpoints, new InMemoryLease(table, 'forwarder', 1_000));
    const b = instance(store, checkpoints, new InMemoryLease(table, 'forwarder', 1_000));
    a.supervisor.start();
    await until(() => a.supervisor.holding, 'a to take the lease');
    b.supervisor.start();
    await append(store, 5);
    await until(() => a.publisher.published.length === 5, 'a to forward 5 events');
    expect(b.supervisor.holding).toBe(false);
    expect(b.publisher.published).toHaveLength(0);

    await a.supervisor.stop();
    await until(() => b.supervisor.holding, 'b to take over');
    await append(store, 3);
    await until(() => b.publisher.published.length === 3, 'b to forward the 3 new events');
    expect(a.publisher.published).toHaveLength(5);
    await b.supervisor.stop();
  });

  it('takes over from a holder that stopped renewing once its lease lapsed', async () => {
    const store = new InMemoryEventStore();
    const table: InMemoryLeaseTable = new Map();
    // A dead holder: it took the lease and never renews it.
    await new InMemoryLease(table, 'forwarder', 300).acquire();
    const b = instance(
      store,
      new InMemoryCheckpointStore(),
      new InMemoryLease(table, 'forwarder', 300),
    );
    b.supervisor.start();
    await append(store, 2);
    expect(b.supervisor.holding).toBe(false);
    await until(() => b.publisher.published.length === 2, 'b to forward after the lapse');
    await b.supervisor.stop();
  });

  it('forwards unconditionally without a lease', async () => {
    const store = new InMemoryEventStore();
    const a = instance(store, new InMemoryCheckpointStore());
    a.supervisor.start();
    await append(store, 4);
    await until(() => a.publisher.published.length === 4, 'the events');
    expect(a.supervisor.holding).toBe(true);
    await a.supervisor.stop();
    expect(a.supervisor.holding).toBe(false);
  });
});

describe('LeaseSupervisor', () => {
  /** A lease whose server can be made unreachable. */
  class FlakyLease implements Lease {
    reachable = true;
    constructor(private readonly inner: Lease) {}
    get ttlMs() {
      return this.inner.ttlMs;
    }
    async acquire() {
      if (!this.reachable) throw new Error('lease server unreachable');
      return this.inner.acquire();
    }
    release() {
      return this.inner.release();
    }
  }

  it('stops the work as soon as a renewal fails, and resumes when it succeeds again', async () => {
    const lease = new FlakyLease(new InMemoryLease(new Map(), 'job', 1_000));
    const errors: unknown[] = [];
    const changes: boolean[] = [];
    let runs = 0;
    const supervisor = new LeaseSupervisor({
      lease,
      start: () => void runs++,
      stop: async () => undefined,
      renewEveryMs: 10,
      onChange: ({ holding }) => changes.push(holding),
      onError: (error) => errors.push(error),
    });
    supervisor.start();
    await until(() => supervisor.holding, 'the work to start');
    lease.reachable = false;
    await until(() => !supervisor.holding, 'the work to stop');
    expect(String(errors[0])).toContain('lease server unreachable');
    lease.reachable = true;
    await until(() => supervisor.holding, 'the work to start again');
    await supervisor.stop();
    expect(runs).toBe(2);
    expect(changes).toEqual([true, false, true, false]);
  });

  it('releases the lease when the work fails to start, so another instance can take it', async () => {
    const table: InMemoryLeaseTable = new Map();
    const errors: unknown[] = [];
    const broken = new LeaseSupervisor({
      lease: new InMemoryLease(table, 'job', 60_000),
      start: () => {
        throw new Error('cannot start');
      },
      stop: async () => undefined,
      renewEveryMs: 10,
      onError: (error) => errors.push(error),
    });
    broken.start();
    await until(() => errors.length > 0, 'the failed start');
    const healthy = new LeaseSupervisor({
      lease: new InMemoryLease(table, 'job', 60_000),
      start: () => undefined,
      stop: async () => undefined,
      renewEveryMs: 10,
    });
    healthy.start();
    // The broken instance retries at every renewal; the healthy one gets a turn well within
    // the lease's minute.
    await until(() => healthy.holding, 'the healthy instance to take the lease');
    expect(broken.holding).toBe(false);
    expect(String(errors[0])).toContain('cannot start');
    await Promise.all([broken.stop(), healthy.stop()]);
  });

  it('refuses a renewal interval that lets the lease lapse between renewals', () => {
    const lease = new InMemoryLease(new Map(), 'job', 1_000);
    const work = { start: () => undefined, stop: async () => undefined };
    expect(() => new LeaseSupervisor({ lease, ...work, renewEveryMs: 1_000 })).toThrow(
      /renewEveryMs \(1000\) must be below the lease's ttlMs \(1000\)/,
    );
    expect(() => new LeaseSupervisor({ lease, ...work, renewEveryMs: 0 })).toThrow(
      /renewEveryMs must be > 0/,
    );
  });

  it('runs a ProjectionRunner in one instance; the next resumes from the saved checkpoint', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const table: InMemoryLeaseTable = new Map();
    const applied: { instance: string; position: number }[] = [];
    const instance = (name: string) => {
      let runner: ProjectionRunner | undefined;
      return new LeaseSupervisor({
        lease: new InMemoryLease(table, 'projections', 1_000),
        // A stopped runner cannot start again: each turn gets a new one.
        start: () => {
          runner = new ProjectionRunner({ eventStore: store, checkpoints, pollIntervalMs: 5 });
          runner.start({
            name: 'counter',
            apply: (event) => void applied.push({ instance: name, position: event.position }),
          });
        },
        stop: async () => runner?.stop(),
        renewEveryMs: 20,
      });
    };
    const a = instance('a');
    const b = instance('b');
    a.start();
    await until(() => a.holding, 'a to take the lease');
    b.start();
    await append(store, 3);
    await until(() => applied.length === 3, 'a to apply 3 events');
    await a.stop();
    await until(() => b.holding, 'b to take over');
    await append(store, 2);
    await until(() => applied.length === 5, 'b to apply the 2 new events');
    await b.stop();
    expect(applied.map((e) => e.instance)).toEqual(['a', 'a', 'a', 'b', 'b']);
    expect(applied.map((e) => e.position)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('LeaseSupervisor timers', () => {
  it('renews a lease of a very long ttl within the longest timer Node keeps, not in a busy loop', async () => {
    // ttl / 3 would be 3e9 ms: past setTimeout's limit, which then fires after 1 ms, again and again.
    const lease = new InMemoryLease(new Map(), 'long', 9_000_000_000);
    let acquires = 0;
    const counting: Lease = {
      ttlMs: lease.ttlMs,
      acquire: () => {
        acquires++;
        return lease.acquire();
      },
      release: () => lease.release(),
    };
    const supervisor = new LeaseSupervisor({
      lease: counting,
      start: () => undefined,
      stop: async () => undefined,
    });
    const warn = jest.spyOn(process, 'emitWarning');
    supervisor.start();
    await until(() => supervisor.holding, 'the lease');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const overflows = warn.mock.calls.filter((call) =>
      String(call[1] ?? call[0]).includes('TimeoutOverflow'),
    );
    warn.mockRestore();
    await supervisor.stop();
    expect(acquires).toBe(1);
    expect(overflows).toEqual([]);
    expect(
      () =>
        new LeaseSupervisor({
          lease: counting,
          start: () => undefined,
          stop: async () => undefined,
          renewEveryMs: 2 ** 31,
        }),
    ).toThrow(`renewEveryMs must be > 0 and at most ${2 ** 31 - 1}, got ${2 ** 31}`);
  });
});
