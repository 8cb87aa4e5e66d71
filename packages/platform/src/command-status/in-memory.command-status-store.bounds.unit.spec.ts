import { InMemoryCommandStatusStore } from './in-memory.command-status-store';

const sizeOf = (store: InMemoryCommandStatusStore): number =>
  (store as unknown as { entries: Map<string, unknown> }).entries.size;

/** Soak finding: the embedded app's command statuses must stay bounded under steady load. */
describe('InMemoryCommandStatusStore bounds', () => {
  const accept = (store: InMemoryCommandStatusStore, i: number) =>
    store.accepted({
      commandId: `c-${i}`,
      type: 'MoveTrainerCommand',
      issuerId: 'u',
      acceptedAt: new Date(0).toISOString(),
    });

  it('keeps at most maxEntries statuses, forgetting the oldest', async () => {
    const store = new InMemoryCommandStatusStore({ maxEntries: 1_000 });
    for (let i = 0; i < 5_000; i++) await accept(store, i);
    expect(sizeOf(store)).toBe(1_000);
    expect(await store.get('c-0')).toBeUndefined();
    expect(await store.get('c-4999')).toBeDefined();
  });

  it('by default does not grow past 100 000 entries within one retention window', async () => {
    const store = new InMemoryCommandStatusStore();
    for (let i = 0; i < 150_000; i++) await accept(store, i);
    expect(sizeOf(store)).toBeLessThanOrEqual(100_000);
  });
});
