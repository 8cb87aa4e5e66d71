import {
  EventBus,
  EventForwarder,
  InMemoryBroker,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  InMemoryLease,
  type InMemoryLeaseTable,
  LeaseSupervisor,
  MessageFactory,
  MessagingMetrics,
  Router,
  runProbes,
  topicNaming,
  JsonSerializer,
} from '@causeway/cqrs-core';
import { Registry } from 'prom-client';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5_000; !done(); await wait(5))
    if (Date.now() > deadline) throw new Error('timed out');
}

describe('guide: outbox, health and metrics', () => {
  it('forwards stored events to the bus', async () => {
    const messages = new MessageFactory();
    const broker = new InMemoryBroker({ serializer: new JsonSerializer() });
    const router = new Router({
      subscriber: broker.subscriber(),
      service: 'audit',
      instanceId: 'a',
    });
    const naming = topicNaming('bank.');
    const audited: number[] = [];
    new EventBus({ publisher: broker, router, naming }).on(
      'MoneyDeposited',
      (event) => void audited.push(event.version),
      { name: 'audit' },
    );
    await router.run();
    // #region guide:forwarder
    const store = new InMemoryEventStore();
    const forwarder = new EventForwarder({
      store,
      publisher: broker,
      checkpoints: new InMemoryCheckpointStore(), // durable: MongoCheckpointStore / RedisCheckpointStore
      topicOf: (event) => naming.event(event.type),
      name: 'accounts-forwarder',
    });
    forwarder.start();

    // Handlers append only; the forwarder publishes what was appended, at least once.
    await store.append(
      'acc-1',
      [messages.event('MoneyDeposited', { amount: 5 }, { aggregateId: 'acc-1' })],
      { expectedVersion: 'no-stream' },
    );
    // #endregion
    await until(() => audited.length === 1);
    await forwarder.stop(); // finishes the round in progress, then stops
    expect(audited).toEqual([1]); // the stored version travels with the event
    expect(forwarder.count).toBe(1);
    await router.close();
  });

  it('runs the forwarder in one instance at a time under a lease', async () => {
    const messages = new MessageFactory();
    const broker = new InMemoryBroker({ serializer: new JsonSerializer() });
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const leases: InMemoryLeaseTable = new Map();
    const published: string[] = [];
    const log: string[] = [];
    const naming = topicNaming('bank.');
    const instance = (instanceId: string) => {
      const forwarder = new EventForwarder({
        store,
        publisher: {
          publish: async (topic, batch) => {
            published.push(...batch.map(() => instanceId));
            await broker.publish(topic, batch);
          },
          close: async () => undefined,
        },
        checkpoints,
        topicOf: (event) => naming.event(event.type),
        name: 'accounts-forwarder',
        pollIntervalMs: 5,
      });
      // #region guide:lease
      // In every instance of the service; only the lease holder runs the forwarder's rounds.
      // `leases` is the InMemoryLeaseTable (a Map) that the instances of one process share.
      const supervisor = new LeaseSupervisor({
        // RedisLease (/redis) across processes: { client, key, ttlMs, holder: instanceId }
        lease: new InMemoryLease(leases, 'accounts-forwarder', 10_000),
        start: () => forwarder.start(),
        stop: () => forwarder.stop(),
        onChange: ({ holding }) =>
          log.push(`${instanceId}: ${holding ? 'forwarding' : 'standing by'}`),
      });
      supervisor.start();
      // on shutdown: await supervisor.stop(); // stops the forwarder, releases the lease
      // #endregion
      return supervisor;
    };
    const a = instance('a');
    await until(() => a.holding);
    const b = instance('b');
    const deposit = (id: string) =>
      store.append(id, [messages.event('MoneyDeposited', { amount: 5 }, { aggregateId: id })], {
        expectedVersion: 'no-stream',
      });
    await deposit('acc-1');
    await until(() => published.length === 1);
    await a.stop(); // releases the lease: b takes over at its next renewal
    await until(() => b.holding);
    await deposit('acc-2');
    await until(() => published.length === 2);
    await b.stop();
    expect(published).toEqual(['a', 'b']);
    expect(log).toEqual(['a: forwarding', 'a: standing by', 'b: forwarding', 'b: standing by']);
  });

  it('probes dependencies and counts deliveries', async () => {
    // #region guide:health
    const results = await runProbes(
      [
        { name: 'ledger-api', check: async () => {} },
        { name: 'fx-rates', check: () => Promise.reject(new Error('connection refused')) },
      ],
      1_000,
    );
    // [{ name: 'ledger-api', healthy: true, … }, { name: 'fx-rates', healthy: false, error: 'connection refused', … }]
    // #endregion
    expect(results.map((r) => [r.name, r.healthy, r.error])).toEqual([
      ['ledger-api', true, undefined],
      ['fx-rates', false, 'connection refused'],
    ]);

    // #region guide:metrics
    const registry = new Registry(); // prom-client; serve registry.metrics() on /metrics
    const metrics = new MessagingMetrics(registry);
    const broker = new InMemoryBroker({ serializer: new JsonSerializer() });
    const router = new Router({ subscriber: broker.subscriber(), service: 'm', instanceId: 'm1' });
    router.use(metrics.middleware()); // handled_total, handler_duration_seconds, …
    const publisher = metrics.instrument(broker); // published_total
    // #endregion
    let handled = 0;
    router.addHandler({
      name: 'count',
      topics: ['t'],
      handle: async () => void handled++,
    });
    await router.run();
    await publisher.publish('t', [new MessageFactory().event('Ping', {})]);
    await until(() => handled === 1);
    await wait(20);
    const text = await registry.metrics();
    expect(text).toMatch(/causeway_messages_published_total\{[^}]*\} 1/);
    expect(text).toMatch(/causeway_messages_handled_total\{[^}]*outcome="success"[^}]*\} 1/);
    await router.close();
  });
});
