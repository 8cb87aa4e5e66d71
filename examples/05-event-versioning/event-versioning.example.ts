import {
  type EventStore,
  JsonSerializer,
  MessageFactory,
  type StoredEvent,
} from '@causeway/cqrs-core';
import { openBackend } from '../shared/example.backend';
import { type ExampleOptions, type ExampleReport } from '../shared/example.options';
import { Transcript } from '../shared/example.transcript';
import {
  FundsAddedV1,
  FundsAddedV2,
  MoneyDeposited,
  release1,
  release2,
  release3,
} from './deposit.releases';

/** One event as stored, or as a reader gets it. */
export interface SeenEvent {
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: unknown;
}

export interface EventVersioningReport extends ExampleReport {
  /** The stream as written, read without upcasting (JsonSerializer). */
  readonly stored: readonly SeenEvent[];
  /** The stream as release 3 reads it: every event a MoneyDeposited v3. */
  readonly read: readonly SeenEvent[];
  /** What release 3's handler summed, per currency, from those events. */
  readonly totalsCents: Readonly<Record<string, number>>;
  /** Events a `types: [MoneyDeposited]` filter of the global log finds (the old name's too). */
  readonly foundByNewName: number;
}

/**
 * An event that changed over three releases: `FundsAdded` v1 → v2 (a new field) → renamed to
 * `MoneyDeposited` v3 (another shape). Release 3 reads what every release wrote as v3 data,
 * through upcasters and `formerNames`; nothing stored is rewritten.
 */
export async function run(options: ExampleOptions = {}): Promise<EventVersioningReport> {
  const out = new Transcript(options.print);
  const backend = await openBackend('05-versioning', options);
  try {
    out.step(`1. Event store: ${backend.kind} (${backend.where})`);
    const id = 'account-ada';
    const messages = new MessageFactory();
    const on = { aggregateId: id, aggregateType: 'Account' };

    // Each release opens the same data with its own registry, as its deploy would.
    const storeOf1 = await backend.eventStore({ serializer: release1() });
    await storeOf1.append(id, [messages.event(FundsAddedV1, { amount: 12.5 }, on)], {
      expectedVersion: 'no-stream',
    });
    out.step('2. Release 1 writes FundsAdded v1 { amount: 12.5 }');

    const storeOf2 = await backend.eventStore({ serializer: release2() });
    await storeOf2.append(id, [messages.event(FundsAddedV2, { amount: 20, currency: 'USD' }, on)], {
      expectedVersion: 1,
    });
    out.step("3. Release 2 writes FundsAdded v2 { amount: 20, currency: 'USD' }");

    const storeOf3 = await backend.eventStore({ serializer: release3() });
    await storeOf3.append(
      id,
      [messages.event(MoneyDeposited, { amountCents: 500, currency: 'EUR' }, on)],
      { expectedVersion: 2 },
    );
    out.step("4. Release 3 writes MoneyDeposited v3 { amountCents: 500, currency: 'EUR' }");

    // JsonSerializer knows no types: it shows what is stored, as it was written.
    const raw = await backend.eventStore({ serializer: new JsonSerializer() });
    const stored = (await raw.readStream(id)).map(seen);
    out.step('5. Stored (nothing was rewritten):');
    for (const event of stored) out.step(`   ${show(event)}`);

    const read = (await storeOf3.readStream(id)).map(seen);
    out.step('6. Read by release 3 (renamed and upcast on read):');
    for (const event of read) out.step(`   ${show(event)}`);

    const totalsCents = await depositTotals(storeOf3);
    out.step(`7. Release 3's handler sums cents per currency: ${JSON.stringify(totalsCents)}`);
    const foundByNewName = (await storeOf3.readAll({ types: [MoneyDeposited] })).length;
    out.step(
      `8. readAll({ types: [MoneyDeposited] }) finds ${foundByNewName} events, old name included`,
    );
    return { store: backend.kind, lines: out.lines, stored, read, totalsCents, foundByNewName };
  } finally {
    await backend.close();
  }
}

/** A handler of release 3: it knows MoneyDeposited v3 only, and `is` types its data. */
async function depositTotals(store: EventStore): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for (const event of await store.readAll({ types: [MoneyDeposited] })) {
    if (!MoneyDeposited.is(event)) continue;
    const { amountCents, currency } = event.data;
    totals[currency] = (totals[currency] ?? 0) + amountCents;
  }
  return totals;
}

function seen(event: StoredEvent): SeenEvent {
  return { type: event.type, schemaVersion: event.metadata.schemaVersion ?? 1, data: event.data };
}

function show(event: SeenEvent): string {
  return `${event.type} v${event.schemaVersion} ${JSON.stringify(event.data)}`;
}
