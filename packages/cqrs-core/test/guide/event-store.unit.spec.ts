import {
  ConcurrencyConflictError,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  MessageFactory,
  messageType,
  type Projection,
  ProjectionRunner,
  StreamDeletedError,
  type StoredEvent,
} from '@causeway/cqrs-core';
import { ProjectionSpecification } from '@causeway/cqrs-core/testing';
import { Registry } from 'prom-client';
import { z } from 'zod';

const messages = new MessageFactory();
// As in the guide's message types section.
const MoneyDeposited = messageType('MoneyDeposited', z.object({ amount: z.number().positive() }));
const MoneyWithdrawn = messageType(
  'MoneyWithdrawn',
  z.object({ amount: z.number().positive(), reason: z.string() }),
  { version: 2 },
);
const deposited = (amount: number) =>
  messages.event('MoneyDeposited', { amount }, { aggregateId: 'acc-1', aggregateType: 'Account' });

async function until(done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 3_000; !done(); await new Promise((r) => setTimeout(r, 5)))
    if (Date.now() > deadline) throw new Error('timed out');
}

describe('guide: event stores', () => {
  it('appends with expected versions, idempotently', async () => {
    // #region guide:append
    const store = new InMemoryEventStore(); // or MongoEventStore / RedisEventStore
    await store.init();
    const deposited = (amount: number) =>
      messages.event(
        MoneyDeposited,
        { amount },
        { aggregateId: 'acc-1', aggregateType: 'Account' },
      );

    const first = deposited(10);
    const result = await store.append('account-acc-1', [first], { expectedVersion: 'no-stream' });
    // result: { nextExpectedVersion: 1, positions: [1] }

    // A second writer that also saw an empty stream loses:
    await expect(
      store.append('account-acc-1', [deposited(20)], { expectedVersion: 0 }),
    ).rejects.toThrow(ConcurrencyConflictError); // error.expected 0, error.actual 1

    // Retrying an append that did get through (same messageIds) is a no-op:
    const again = await store.append('account-acc-1', [first], { expectedVersion: 'no-stream' });
    // again: { nextExpectedVersion: 1, positions: [] }
    // #endregion
    expect(result).toEqual({ nextExpectedVersion: 1, positions: [1] });
    expect(again).toEqual({ nextExpectedVersion: 1, positions: [] });
    expect(await store.readStream('account-acc-1')).toHaveLength(1);
  });

  it('reads streams and the global log, and subscribes', async () => {
    const store = new InMemoryEventStore();
    await store.append('account-a', [deposited(1), deposited(2)], { expectedVersion: 'any' });
    await store.append('account-b', [deposited(3)], { expectedVersion: 'any' });
    // #region guide:read
    const stream = await store.readStream('account-a', { fromVersion: 2 }); // [v2]
    const latest = await store.readStream('account-a', { direction: 'backwards', limit: 1 });
    const info = await store.streamInfo('account-a');
    // info: { streamId: 'account-a', version: 2, firstVersion: 1, state: 'active' }

    // The global log, page by page, with a checkpoint to resume from:
    const page = await store.readAllPage({ fromPosition: 0, types: ['MoneyDeposited'], limit: 2 });
    // page.events: positions 1 and 2; page.position: 2; page.caughtUp: false
    const next = await store.readAllPage({ fromPosition: page.position, limit: 100 });
    // next.events: position 3; next.caughtUp: true
    // #endregion
    expect(stream.map((e) => e.version)).toEqual([2]);
    expect(latest.map((e) => e.version)).toEqual([2]);
    expect(info).toEqual({ streamId: 'account-a', version: 2, firstVersion: 1, state: 'active' });
    expect(page.events.map((e) => e.position)).toEqual([1, 2]);
    expect(page.position).toBe(2);
    expect(page.caughtUp).toBe(false);
    expect(next.events.map((e) => e.position)).toEqual([3]);
    expect(next.caughtUp).toBe(true);
  });

  it('builds a projection with the projection runner', async () => {
    const store = new InMemoryEventStore();
    await store.append('account-a', [deposited(1), deposited(2)], { expectedVersion: 'any' });
    // #region guide:projection
    const balances = new Map<string, { balance: number; version: number }>();
    const projection: Projection = {
      name: 'balances', // names its checkpoint
      types: [MoneyDeposited, MoneyWithdrawn], // message types or names ('MoneyDeposited')
      apply(event: StoredEvent) {
        const row = balances.get(event.streamId) ?? { balance: 0, version: 0 };
        if (event.version <= row.version) return; // applied before: at-least-once delivery
        let change = 0;
        if (MoneyDeposited.is(event))
          change = event.data.amount; // is() narrows event.data
        else if (MoneyWithdrawn.is(event)) change = -event.data.amount;
        balances.set(event.streamId, { balance: row.balance + change, version: event.version });
      },
    };
    const projections = new ProjectionRunner({
      eventStore: store,
      // In memory, as the Map: a checkpoint must last as long as its read model (a Map behind a
      // MongoCheckpointStore would restart empty past the events). With the rows in MongoDB or
      // Redis, use MongoCheckpointStore or RedisCheckpointStore there.
      checkpoints: new InMemoryCheckpointStore(),
      onError: (error, name) => console.warn(`projection ${name} failed; retrying`, error),
    });
    projections.start(projection);
    await projections.whenCaughtUp(); // the read model has every event written so far
    // projections.probe(): a health probe for readiness; on shutdown:
    // await projections.stop(); // saves each checkpoint
    // #endregion
    expect(balances.get('account-a')).toEqual({ balance: 3, version: 2 });
    await store.append('account-a', [deposited(4)], { expectedVersion: 2 });
    await until(() => balances.get('account-a')?.balance === 7);
    await projections.stop();
    expect(projections.status()).toEqual([
      expect.objectContaining({ name: 'balances', position: 3, saved: 3, caughtUp: true }),
    ]);
  });

  it('rebuilds a projection, gives up on an event that keeps failing, and measures it', async () => {
    const store = new InMemoryEventStore();
    await store.append('account-a', [deposited(1), deposited(2)], { expectedVersion: 'any' });
    const skippedLog: string[] = [];
    const console = { error: (line: string) => skippedLog.push(line), info: (_line: string) => {} };
    // #region guide:projection-operations
    let amountToRefuse = 2; // a bug in apply: it throws on deposits of 2
    const balances = new Map<string, { balance: number; version: number }>();
    const projection: Projection = {
      name: 'balances',
      types: ['MoneyDeposited'],
      apply(event: StoredEvent) {
        const row = balances.get(event.streamId) ?? { balance: 0, version: 0 };
        const { amount } = event.data as { amount: number };
        if (amount === amountToRefuse) throw new Error(`a bug refuses ${amount}`);
        if (event.version > row.version)
          balances.set(event.streamId, { balance: row.balance + amount, version: event.version });
      },
      reset: () => balances.clear(), // empties the read model: rebuild() needs it
    };
    const registry = new Registry(); // prom-client; the runner adds causeway_projection_*
    const projections = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
      registry,
      maxAttempts: 3, // then it gives up on the event (default: retry it for ever)
      backoff: { initialDelayMs: 10 },
      onSkipped: (event, error, name) =>
        console.error(`${name} skipped ${event.streamId}@${event.version}: ${error}`),
      onProgress: ({ name, position, applied, behindMs }) =>
        console.info(`${name}: at ${position}, ${applied} applied, ${behindMs} ms behind the log`),
    });
    projections.start(projection);
    await projections.whenCaughtUp(); // account-a@2 was skipped after 3 attempts
    // The bug is fixed and deployed: replay the whole log into an emptied read model.
    amountToRefuse = 0;
    await projections.rebuild('balances'); // status(): rebuilding until caught up again
    await projections.whenCaughtUp('balances');
    // Without maxAttempts, a projection stuck on an event waits (status().failingAt names
    // it) until an operator gives up on it: projections.skip('balances', position).
    // #endregion
    expect(skippedLog).toEqual(['balances skipped account-a@2: Error: a bug refuses 2']);
    expect(balances.get('account-a')).toEqual({ balance: 3, version: 2 });
    expect(await registry.metrics()).toContain(
      'causeway_projection_skipped_total{projection="balances"} 1',
    );
    await projections.stop();
  });

  it('tests a projection with given/when/then', async () => {
    // #region guide:projection-spec
    const spec = ProjectionSpecification.for(() => {
      const balances = new Map<string, { balance: number; version: number }>();
      const projection: Projection = {
        name: 'balances',
        types: ['MoneyDeposited'],
        apply(event: StoredEvent) {
          const row = balances.get(event.streamId) ?? { balance: 0, version: 0 };
          if (event.version <= row.version) return; // applied before
          const { amount } = event.data as { amount: number };
          balances.set(event.streamId, { balance: row.balance + amount, version: event.version });
        },
      };
      const read = () => Object.fromEntries([...balances].map(([id, row]) => [id, row.balance]));
      return { projection, read }; // a fresh read model for every run
    });

    await spec
      .given([{ streamId: 'acc-1', type: 'MoneyDeposited', data: { amount: 10 } }])
      .when([{ streamId: 'acc-1', type: 'MoneyDeposited', data: { amount: 5 } }])
      .then({ 'acc-1': 15 }); // also checked with every event delivered again
    // #endregion
  });

  it('builds a projection by hand with a subscription and a checkpoint', async () => {
    const store = new InMemoryEventStore();
    await store.append('account-a', [deposited(1), deposited(2)], { expectedVersion: 'any' });
    // #region guide:projection-by-hand
    const checkpoints = new InMemoryCheckpointStore();
    const balances = new Map<string, number>();

    const subscription = store.subscribe({
      fromPosition: await checkpoints.load('balances'),
      types: [MoneyDeposited, MoneyWithdrawn],
      handler: (event: StoredEvent) => {
        if (!MoneyDeposited.is(event) && !MoneyWithdrawn.is(event)) return;
        const sign = event.type === 'MoneyDeposited' ? 1 : -1; // event.data: { amount, … }
        balances.set(
          event.streamId,
          (balances.get(event.streamId) ?? 0) + sign * event.data.amount,
        );
      },
      onCaughtUp: (position) => checkpoints.save('balances', position),
      onError: (error) => console.error('projection stopped', error),
    });
    // …periodically, and on shutdown:
    await checkpoints.save('balances', subscription.position);
    // #endregion
    await store.append('account-a', [deposited(4)], { expectedVersion: 2 });
    await until(() => balances.get('account-a') === 7);
    await subscription.stop();
    await checkpoints.save('balances', subscription.position);
    expect(await checkpoints.load('balances')).toBe(3);
  });

  it('deletes, truncates and applies retention', async () => {
    const store = new InMemoryEventStore();
    await store.append('account-a', [deposited(1), deposited(2), deposited(3)], {
      expectedVersion: 'no-stream',
    });
    await store.append('account-b', [deposited(1)], { expectedVersion: 'no-stream' });
    await store.append('account-c', [deposited(1)], { expectedVersion: 'no-stream' });
    // #region guide:lifecycle
    await store.truncateStream('account-a', 3); // versions 1 and 2 are gone; v3 stays
    await store.deleteStream('account-b', { mode: 'soft' }); // reads [], can be written again
    await store.append('account-b', [deposited(5)], { expectedVersion: 1 }); // versions continue: v2
    await store.deleteStream('account-c', { mode: 'hard' }); // tombstone
    await expect(
      store.append('account-c', [deposited(5)], { expectedVersion: 'any' }),
    ).rejects.toThrow(StreamDeletedError);

    const removed = await store.applyRetention({ maxCount: 1, streamPrefix: 'account-' });
    // #endregion
    expect((await store.readStream('account-a')).map((e) => e.version)).toEqual([3]);
    expect(await store.streamInfo('account-a')).toMatchObject({ firstVersion: 3, version: 3 });
    expect((await store.readStream('account-b')).map((e) => e.version)).toEqual([2]);
    expect((await store.streamInfo('account-c')).state).toBe('tombstoned');
    expect(removed).toBe(0);
  });
});
