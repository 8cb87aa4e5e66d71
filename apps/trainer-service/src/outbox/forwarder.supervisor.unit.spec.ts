import {
  type Envelope,
  EventForwarder,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  MessageFactory,
  type Publisher,
} from '@causeway/cqrs-core';
import { ForwarderSupervisor } from './forwarder.supervisor';
import { InMemoryLease, type InMemoryLeaseTable } from './in-memory.lease';

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

describe('ForwarderSupervisor', () => {
  const factory = new MessageFactory();
  const append = (store: InMemoryEventStore, n: number) =>
    store.append(
      `s-${Math.random()}`,
      Array.from({ length: n }, () => factory.event('Happened', {})),
      { expectedVersion: 'no-stream' },
    );

  function instance(
    store: InMemoryEventStore,
    checkpoints: InMemoryCheckpointStore,
    lease?: InMemoryLease,
  ) {
    const publisher = new RecordingPublisher();
    const forwarder = new EventForwarder({
      store,
      publisher,
      checkpoints,
      topicOf: (event) => `events.${event.type}`,
      pollIntervalMs: 5,
    });
    return {
      publisher,
      supervisor: new ForwarderSupervisor({ forwarder, lease, renewEveryMs: 20 }),
    };
  }

  it('forwards on one instance at a time, and the other takes over when it stops', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const table: InMemoryLeaseTable = new Map();
    const a = instance(store, checkpoints, new InMemoryLease(table, 'forwarder', 200));
    const b = instance(store, checkpoints, new InMemoryLease(table, 'forwarder', 200));
    a.supervisor.start();
    await until(() => a.supervisor.forwarding, 'a to take the lease');
    b.supervisor.start();
    await append(store, 5);
    await until(() => a.publisher.published.length === 5, 'a to forward 5 events');
    expect(b.supervisor.forwarding).toBe(false);
    expect(b.publisher.published).toHaveLength(0);

    await a.supervisor.stop();
    await until(() => b.supervisor.forwarding, 'b to take over');
    await append(store, 3);
    await until(() => b.publisher.published.length === 3, 'b to forward the 3 new events');
    expect(a.publisher.published).toHaveLength(5);
    await b.supervisor.stop();
  });

  it('takes over from a holder that stopped renewing once its lease lapsed', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const table: InMemoryLeaseTable = new Map();
    // A dead holder: it took the lease and never renews it.
    await new InMemoryLease(table, 'forwarder', 300).acquire();
    const b = instance(store, checkpoints, new InMemoryLease(table, 'forwarder', 300));
    b.supervisor.start();
    await append(store, 2);
    await until(() => b.publisher.published.length === 2, 'b to forward after the lapse');
    await b.supervisor.stop();
  });

  it('forwards unconditionally without a lease', async () => {
    const store = new InMemoryEventStore();
    const a = instance(store, new InMemoryCheckpointStore());
    a.supervisor.start();
    expect(a.supervisor.forwarding).toBe(true);
    await append(store, 4);
    await until(() => a.publisher.published.length === 4, 'the events');
    await a.supervisor.stop();
  });
});
