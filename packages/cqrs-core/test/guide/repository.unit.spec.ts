import {
  AggregateRepository,
  commandHandler,
  decideEvents,
  ConcurrencyConflictError,
  deciderRepository,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  InMemorySnapshotStore,
  ProjectionRunner,
  retryOnConflict,
  SnapshotPolicies,
} from '@causeway/cqrs-core';
import { Account, account, type AccountCommand, InsufficientFundsError } from './account.domain';

describe('guide: repository, snapshots and retry', () => {
  it('handles commands with a decider', async () => {
    // #region guide:command-handler
    const store = new InMemoryEventStore();
    const handle = commandHandler(store, account, {
      aggregateType: 'Account',
      retry: { maxAttempts: 5 }, // the default; `false` turns retrying off
    });

    await handle('account-acc-1', { type: 'OpenAccount', data: { owner: 'ada' } });
    const result = await handle('account-acc-1', { type: 'Deposit', data: { amount: 50 } });
    // result.newState: { open: true, balance: 50 }
    // result.newEvents: [{ type: 'MoneyDeposited', data: { amount: 50 } }]
    // result.nextExpectedVersion: 2, result.attempts: 1
    // #endregion
    expect(result.newState).toEqual({ open: true, balance: 50 });
    expect(result.newEvents).toEqual([{ type: 'MoneyDeposited', data: { amount: 50 } }]);
    expect(result.nextExpectedVersion).toBe(2);
    expect(result.attempts).toBe(1);
    const [stored] = await store.readStream('account-acc-1');
    expect(stored).toMatchObject({ type: 'AccountOpened', aggregateType: 'Account', version: 1 });
    await expect(
      handle('account-acc-1', { type: 'Withdraw', data: { amount: 500 } }),
    ).rejects.toThrow(InsufficientFundsError);
  });

  it('decides on the version the client saw, and reads its own write', async () => {
    const store = new InMemoryEventStore();
    const handle = commandHandler(store, account, { aggregateType: 'Account' });
    await handle('account-acc-1', { type: 'OpenAccount', data: { owner: 'ada' } });
    await handle('account-acc-1', { type: 'Deposit', data: { amount: 50 } });
    const balances = new Map<string, number>();
    const projections = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
    }).start({
      name: 'balances',
      types: ['MoneyDeposited', 'MoneyWithdrawn'],
      apply: (event) => {
        const { amount } = event.data as { amount: number };
        const sign = event.type === 'MoneyDeposited' ? 1 : -1;
        balances.set(event.streamId, (balances.get(event.streamId) ?? 0) + sign * amount);
      },
    });
    await projections.whenCaughtUp();
    const ifMatch = '"2"';
    // #region guide:expected-version
    // The client read the account at version 2 (ETag: "2") and sends If-Match: "2".
    const seen = Number(JSON.parse(ifMatch)); // parse and check it as your API does
    const result = await handle(
      'account-acc-1',
      { type: 'Withdraw', data: { amount: 20 } },
      { expectedVersion: seen }, // moved since? ConcurrencyConflictError, not retried
    );
    // result.positions: where its events are in the log. Read your own write:
    await projections.waitFor(result.positions.at(-1)!); // the projections' read model has it
    // #endregion
    expect(balances.get('account-acc-1')).toBe(30);
    await expect(
      handle('account-acc-1', { type: 'Withdraw', data: { amount: 5 } }, { expectedVersion: 2 }),
    ).rejects.toThrow(ConcurrencyConflictError);
    await projections.stop();
  });

  it('retries concurrent commands on conflict', async () => {
    const store = new InMemoryEventStore();
    const handle = commandHandler(store, account, { aggregateType: 'Account' });
    await handle('account-acc-1', { type: 'OpenAccount', data: { owner: 'ada' } });
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        handle('account-acc-1', { type: 'Deposit', data: { amount: 10 } }),
      ),
    );
    expect(Math.max(...results.map((r) => r.attempts))).toBeGreaterThan(1);
    expect((await store.readStream('account-acc-1')).length).toBe(6);
  });

  it('loads and saves class aggregates, with snapshots', async () => {
    // #region guide:aggregate-repository
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore(); // or MongoSnapshotStore, RedisSnapshotStore
    const accounts = new AggregateRepository<Account>({
      eventStore: store,
      aggregateType: 'Account',
      create: (id) => new Account(id),
      snapshots: {
        store: snapshots,
        policy: SnapshotPolicies.everyEvents(2),
        schemaVersion: 1, // bump when AccountState or evolve changes: old snapshots are ignored
      },
    });

    // load -> act -> save, retried on ConcurrencyConflictError with a fresh load each time:
    await accounts.update('account-acc-1', (acc) => acc.open('ada'));
    await accounts.update('account-acc-1', (acc) => acc.deposit(70));

    const acc = await accounts.load('account-acc-1'); // from the snapshot at v2, then the events after it
    // acc.state: { open: true, balance: 70 }, acc.version: 2
    // #endregion
    expect(acc.state).toEqual({ open: true, balance: 70 });
    expect(acc.version).toBe(2);
    expect((await snapshots.list('account-acc-1')).map((s) => s.version)).toEqual([2]);

    // Stream id = aggregate id here: the repository does not prefix it.
    expect(await store.readStream('account-acc-1')).toHaveLength(2);

    // #region guide:conflict
    const a = await accounts.load('account-acc-1');
    const b = await accounts.load('account-acc-1');
    a.deposit(1);
    b.deposit(2);
    const saved = await accounts.save(a); // saved.version: 3, saved.positions: [3] (for waitFor)
    await expect(accounts.save(b)).rejects.toThrow(ConcurrencyConflictError);
    // #endregion
    expect(saved).toMatchObject({ version: 3, positions: [3] });
  });

  it('retries a hand-written cycle with retryOnConflict', async () => {
    const store = new InMemoryEventStore();
    // #region guide:retry-on-conflict
    const conflicts: ConcurrencyConflictError[] = []; // or a metric, a log line
    const onRetry = ({ error }: { error: ConcurrencyConflictError }) => conflicts.push(error);
    const repository = deciderRepository(account, { eventStore: store, aggregateType: 'Account' });

    // The whole read -> decide -> append cycle is retried, never the append alone.
    const run = (command: AccountCommand) =>
      retryOnConflict(
        async () => {
          const loaded = await repository.load('account-acc-9'); // { state, version, … }
          return repository.save(loaded, decideEvents(account, command, loaded.state));
        },
        { maxAttempts: 5, onRetry },
      );

    await run({ type: 'OpenAccount', data: { owner: 'ada' } });
    await Promise.all([1, 2, 3].map(() => run({ type: 'Deposit', data: { amount: 5 } })));
    // #endregion
    expect(conflicts.length).toBeGreaterThan(0);
    expect(conflicts[0]).toBeInstanceOf(ConcurrencyConflictError);
    const final = await repository.load('account-acc-9');
    expect(final.state.balance).toBe(15);
    expect(final.version).toBe(4);
  });
});
