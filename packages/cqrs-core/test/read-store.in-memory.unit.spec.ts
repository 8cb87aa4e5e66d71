import { InMemoryReadStore } from '../src';
import { describeReadStoreConformance } from '../src/testing/read-store.conformance';

describeReadStoreConformance('in-memory', () => new InMemoryReadStore());

describe('InMemoryReadStore', () => {
  // countBy compared each row with every group found so far (and both texts encoded for each
  // comparison): 10 000 distinct values took seconds, 100 000 minutes, blocking the process
  // meanwhile. The Redis store groups with the same rules.
  it('counts by a field of many distinct values in time that grows with the rows', async () => {
    const store = new InMemoryReadStore();
    const distinct = 10_000;
    for (let i = 0; i < distinct; i++)
      await store.put(`r${i}`, { owner: `owner-${i}`, rank: i % 3 === 0 ? i : `${i}` });
    await store.put('again', { owner: 'owner-7', rank: null });
    const started = performance.now();
    const owners = await store.countBy('owner');
    const ranks = await store.countBy('rank');
    const took = performance.now() - started;
    expect(owners).toHaveLength(distinct);
    expect(owners.find((group) => group.value === 'owner-7')).toEqual({
      value: 'owner-7',
      count: 2,
    });
    // The shared order: null < numbers < strings, strings by code point ('owner-10' < 'owner-2').
    expect(owners.slice(0, 3).map((group) => group.value)).toEqual([
      'owner-0',
      'owner-1',
      'owner-10',
    ]);
    expect(ranks[0]).toEqual({ value: null, count: 1 });
    expect(ranks[1]).toEqual({ value: 0, count: 1 });
    expect(ranks).toHaveLength(distinct + 1);
    // ~0.2 s here on a busy machine; the quadratic grouping took ~190 s.
    expect(took).toBeLessThan(10_000);
  }, 30_000);
});
