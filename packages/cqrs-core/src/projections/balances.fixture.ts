import { type StoredEvent } from '../event-store/event-store.port';
import { type InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { testEnvelope } from '../testing/envelope.fixture';
import { type Projection } from './projection.port';

// A read model for the runner's tests: balances per account, from Deposited / Withdrawn.

export const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export async function until(done: () => boolean, timeoutMs = 3_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !done(); await wait(5))
    if (Date.now() > deadline) throw new Error('timed out');
}

/** Balances per account, applying each stream version once (idempotent, as the port asks). */
export function balances(name = 'balances', fail?: (event: StoredEvent) => boolean) {
  const state = new Map<string, number>();
  const applied = new Map<string, number>();
  const seen: string[] = [];
  const projection: Projection = {
    name,
    types: ['Deposited', 'Withdrawn'],
    apply(event) {
      if (fail?.(event)) throw new Error(`cannot apply ${event.streamId}@${event.version}`);
      seen.push(`${event.streamId}@${event.version}`);
      if ((applied.get(event.streamId) ?? 0) >= event.version) return;
      applied.set(event.streamId, event.version);
      const { amount } = event.data as { amount: number };
      const sign = event.type === 'Deposited' ? 1 : -1;
      state.set(event.streamId, (state.get(event.streamId) ?? 0) + sign * amount);
    },
    reset() {
      state.clear();
      applied.clear();
    },
  };
  return { projection, state, seen };
}

/** The events a buggy `apply` refuses in these tests: deposits of 666. */
export const poison = (event: { data: unknown }) =>
  (event.data as { amount: number }).amount === 666;

export async function deposit(store: InMemoryEventStore, account: string, ...amounts: number[]) {
  const { version } = await store.streamInfo(account);
  await store.append(
    account,
    amounts.map((amount) => testEnvelope('Deposited', { amount }, { aggregateId: account })),
    { expectedVersion: version === 0 ? 'no-stream' : version },
  );
}
