import { performance } from 'node:perf_hooks';
import {
  type EventSourcedRepository,
  type LoadedStream,
  SnapshotPolicies,
  type SnapshotStore,
  deciderRepository,
} from '@causeway/cqrs-core';
import { type AccountState, account } from '../01-basic-event-sourcing/account.decider';
import {
  AccountOpened,
  type AccountEvent,
  MoneyDeposited,
  accountSerializer,
} from '../01-basic-event-sourcing/account.events';
import { openBackend } from '../shared/example.backend';
import { type ExampleOptions, type ExampleReport } from '../shared/example.options';
import { Transcript } from '../shared/example.transcript';
import { accountStatement } from './account-statement.decider';

/** How one load went: what it started from and how much it had to fold. */
export interface LoadMeasure {
  readonly snapshotVersion: number;
  readonly replayedEvents: number;
  readonly version: number;
  readonly milliseconds: number;
}

export interface SnapshotsReport extends ExampleReport {
  readonly events: number;
  readonly withoutSnapshots: LoadMeasure;
  readonly withSnapshots: LoadMeasure;
  /** Release 2 (snapshot schema version 2): the first load ignores the old snapshots… */
  readonly afterBump: LoadMeasure;
  /** …its next save snapshots the new state, and the load after it starts from there. */
  readonly afterRebuild: LoadMeasure;
  readonly balance: number;
  readonly deposits: number;
  /** The stream's snapshots at the end: `v<version> schema <n>`, newest first. */
  readonly snapshots: readonly string[];
}

const EVENTS = 1_000;
const BATCH = 40; // events per save: snapshots land at v120, v240, … v960

/**
 * A 1 000-event stream loaded with and without snapshots (SnapshotPolicies.everyEvents(100)),
 * then a new release whose state has another shape bumps the snapshot schema version: the old
 * snapshots are ignored, the state is rebuilt from the events and snapshotted again.
 */
export async function run(options: ExampleOptions = {}): Promise<SnapshotsReport> {
  const out = new Transcript(options.print);
  const backend = await openBackend('03-snapshots', options);
  try {
    out.step(`1. Event store and snapshot store: ${backend.kind} (${backend.where})`);
    const eventStore = await backend.eventStore({ serializer: accountSerializer() });
    const snapshotStore = await backend.snapshotStore();
    const id = 'account-busy';
    const release1 = deciderRepository(account, {
      eventStore,
      aggregateType: 'Account',
      snapshots: {
        store: snapshotStore,
        policy: SnapshotPolicies.everyEvents(100),
        schemaVersion: 1,
      },
    });

    await writeHistory(release1, id);
    out.step(`2. Wrote ${EVENTS} events to ${id} in saves of ${BATCH}; snapshot every 100 events`);

    const plain = deciderRepository(account, { eventStore, aggregateType: 'Account' });
    const withoutSnapshots = await measure(() => plain.load(id));
    out.step(`3. Load without snapshots: ${describe(withoutSnapshots)}`);
    const withSnapshots = await measure(() => release1.load(id));
    out.step(`4. Load with snapshots:    ${describe(withSnapshots)}`);

    // Release 2 counts deposits: its state has a new field, so its snapshots get schema version 2.
    const release2 = deciderRepository(accountStatement, {
      eventStore,
      aggregateType: 'Account',
      snapshots: {
        store: snapshotStore,
        policy: SnapshotPolicies.everyEvents(100),
        schemaVersion: 2,
      },
    });
    const bumped = await measureLoaded(() => release2.load(id));
    const afterBump = bumped.measure;
    out.step(`5. Schema version 1 -> 2, first load: ${describe(afterBump)} (old snapshot ignored)`);
    await release2.save(bumped.loaded, [MoneyDeposited.of({ amount: 1 })]);
    const rebuilt = await measureLoaded(() => release2.load(id));
    const afterRebuild = rebuilt.measure;
    out.step(`6. After its next save, the load:  ${describe(afterRebuild)} (rebuilt at schema 2)`);
    out.step(
      `   state: balance ${rebuilt.loaded.state.balance}, ${rebuilt.loaded.state.deposits} deposits`,
    );

    const snapshots = await listSnapshots(snapshotStore, id);
    out.step(`7. Snapshots kept for ${id}: ${snapshots.join(', ')}`);
    return {
      store: backend.kind,
      lines: out.lines,
      events: EVENTS,
      withoutSnapshots,
      withSnapshots,
      afterBump,
      afterRebuild,
      balance: rebuilt.loaded.state.balance,
      deposits: rebuilt.loaded.state.deposits,
      snapshots,
    };
  } finally {
    await backend.close();
  }
}

/** Open, then deposits of 1 until the stream has EVENTS events, BATCH per save. */
async function writeHistory(
  repository: EventSourcedRepository<AccountState, AccountEvent>,
  id: string,
): Promise<void> {
  let loaded = await repository.load(id);
  const events: AccountEvent[] = [AccountOpened.of({ owner: 'busy' })];
  while (events.length < EVENTS) events.push(MoneyDeposited.of({ amount: 1 }));
  for (let at = 0; at < events.length; at += BATCH) {
    loaded = await repository.save(loaded, events.slice(at, at + BATCH));
  }
}

async function measure<S>(load: () => Promise<LoadedStream<S>>): Promise<LoadMeasure> {
  return (await measureLoaded(load)).measure;
}

async function measureLoaded<S>(
  load: () => Promise<LoadedStream<S>>,
): Promise<{ loaded: LoadedStream<S>; measure: LoadMeasure }> {
  const started = performance.now();
  const loaded = await load();
  const milliseconds = Math.round((performance.now() - started) * 10) / 10;
  const { snapshotVersion, replayedEvents, version } = loaded;
  return { loaded, measure: { snapshotVersion, replayedEvents, version, milliseconds } };
}

function describe(m: LoadMeasure): string {
  const from = m.snapshotVersion > 0 ? `snapshot at v${m.snapshotVersion}` : 'no snapshot';
  return `${from}, ${m.replayedEvents} events replayed, v${m.version}, ${m.milliseconds} ms`;
}

async function listSnapshots(store: SnapshotStore, id: string): Promise<string[]> {
  const list = await store.list(id);
  return list.map((s) => `v${s.version} schema ${s.schemaVersion}`);
}
