import { SnapshotPolicies, commandHandler, deciderRepository } from '@causeway/cqrs-core';
import { account } from '../01-basic-event-sourcing/account.decider';
import { accountSerializer } from '../01-basic-event-sourcing/account.events';
import { type ExampleBackend, openBackend, scanKeys } from '../shared/example.backend';
import { type ExampleOptions, type ExampleReport } from '../shared/example.options';
import { Transcript } from '../shared/example.transcript';
import { contextStores } from './context.stores';

export interface CustomCollectionsReport extends ExampleReport {
  /** The balance of `account-1` as each context sees it: two streams with one id. */
  readonly balances: { readonly billing: number; readonly savings: number };
  /** The version of the latest snapshot of `account-1` in each context's snapshot store. */
  readonly snapshotVersions: { readonly billing: number; readonly savings: number };
  /**
   * What the run created on the server: MongoDB collection names, or Redis keys without the
   * run's prefix; empty in memory.
   */
  readonly created: readonly string[];
}

/**
 * Two bounded contexts, `billing` and `savings`, in one database: each has its event store
 * under its own collection prefix (Redis: key prefix) and its snapshot store in its own
 * collection, so the same stream id is a separate stream in each.
 */
export async function run(options: ExampleOptions = {}): Promise<CustomCollectionsReport> {
  const out = new Transcript(options.print);
  const backend = await openBackend('02-collections', options);
  try {
    out.step(`1. Backend: ${backend.kind} (${backend.where})`);
    const balances = { billing: 0, savings: 0 };
    const snapshotVersions = { billing: 0, savings: 0 };
    const deposits = { billing: [100, 50], savings: [1000] };
    for (const context of ['billing', 'savings'] as const) {
      const stores = await contextStores(backend, context, accountSerializer());
      out.step(`2. ${context}: ${stores.names}`);
      const snapshots = {
        store: stores.snapshotStore,
        policy: SnapshotPolicies.everyEvents(2),
        schemaVersion: 1,
      };
      const handle = commandHandler(stores.eventStore, account, {
        aggregateType: 'Account',
        snapshots,
      });
      await handle('account-1', { type: 'OpenAccount', data: { owner: context } });
      for (const amount of deposits[context])
        await handle('account-1', { type: 'Deposit', data: { amount } });

      const repository = deciderRepository(account, {
        eventStore: stores.eventStore,
        aggregateType: 'Account',
        snapshots,
      });
      const loaded = await repository.load('account-1');
      const latest = await stores.snapshotStore.loadLatest('account-1', { schemaVersion: 1 });
      balances[context] = loaded.state.balance;
      snapshotVersions[context] = latest?.version ?? 0;
      out.step(
        `   account-1 in ${context}: balance ${loaded.state.balance} at v${loaded.version}, ` +
          `latest snapshot at v${snapshotVersions[context]}`,
      );
    }
    const created = await createdNames(backend);
    if (created.length > 0) {
      out.step(`3. Created on the server:`);
      for (const name of created) out.step(`   ${name}`);
    } else out.step('3. In memory nothing is named: each store instance is its own data');
    return { store: backend.kind, lines: out.lines, balances, snapshotVersions, created };
  } finally {
    await backend.close();
  }
}

async function createdNames(backend: ExampleBackend): Promise<string[]> {
  if (backend.mongo) {
    const collections = await backend.mongo.listCollections();
    return collections.map((c) => c.name).sort();
  }
  if (backend.redis) {
    const { client, keyPrefix } = backend.redis;
    const keys = await scanKeys(client, `${keyPrefix}*`);
    return keys.map((key) => key.slice(keyPrefix.length));
  }
  return [];
}
