import { compareIds } from './redis-streams.partition';

describe('compareIds', () => {
  const sign = (n: number) => Math.sign(n);

  it('orders `<ms>-<seq>` ids by time, then by sequence, whatever their lengths', () => {
    const ordered = ['9-0', '9-10', '10-0', '10-2', '10-10', '1763719000123-9', '1763719000123-10'];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        expect(sign(compareIds(ordered[i]!, ordered[j]!))).toBe(sign(i - j));
      }
    }
  });

  it('compares ids of equal shape as their text (the fast path) and ids without a sequence', () => {
    expect(compareIds('1763719000123-45', '1763719000124-12')).toBeLessThan(0);
    expect(compareIds('1763719000124-12', '1763719000123-45')).toBeGreaterThan(0);
    expect(compareIds('1763719000123-45', '1763719000123-45')).toBe(0);
    expect(compareIds('5', '5-1')).toBeLessThan(0);
    expect(compareIds('6', '5-1')).toBeGreaterThan(0);
  });
});
