import { InMemoryDeduplicationStore } from './in-memory.deduplication-store';

describe('InMemoryDeduplicationStore', () => {
  it('forgets keys past their time even when nobody asks for them again', async () => {
    let now = 1_000_000;
    const store = new InMemoryDeduplicationStore({ now: () => now });
    for (let i = 0; i < 5_000; i++) {
      const claim = await store.claim(`message-${i}`, 30_000);
      if (claim.state !== 'claimed') throw new Error(`message-${i} not claimed`);
      await store.complete(`message-${i}`, claim.token, 60_000);
    }
    expect(store.size).toBe(5_000);
    // A key is still done within its time...
    now += 59_000;
    expect(await store.claim('message-0', 30_000)).toEqual({ state: 'done' });
    expect(store.size).toBe(5_000);
    // ...and past it every key goes, at the next claim of any key.
    now += 2_000;
    await store.claim('another', 30_000);
    expect(store.size).toBe(1);
    expect(await store.claim('message-0', 30_000)).toMatchObject({ state: 'claimed' });
  });
});
