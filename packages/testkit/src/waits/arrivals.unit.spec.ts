import { Arrivals, within } from './arrivals';

describe('Arrivals', () => {
  it('resolves at the arrival that makes the condition hold, with the items up to it', async () => {
    const seen = new Arrivals<number>();
    const two = seen.atLeast(2, 'two numbers');
    seen.push(1);
    seen.push(2);
    const got = await two;
    // What arrives later is no part of the answer: a test compares what it awaited.
    seen.push(3);
    expect(got).toEqual([1, 2]);
    expect(seen.items).toEqual([1, 2, 3]);
    // Already true: at once.
    expect(await seen.until((items) => items.includes(3), 'a 3')).toEqual([1, 2, 3]);
  });

  it('fails after its deadline naming what it waited for and what arrived', async () => {
    const seen = new Arrivals<string>();
    seen.push('before');
    await expect(seen.atLeast(2, 'the message after the stall', 20)).rejects.toThrow(
      'timed out after 20 ms waiting for the message after the stall; received: ["before"]',
    );
    // The waiter is gone: a later arrival settles nothing twice and throws nothing.
    expect(() => seen.push('after')).not.toThrow();
  });
});

describe('within', () => {
  it('settles as the promise does, or fails naming what did not happen', async () => {
    await expect(within(1_000, Promise.resolve('closed'), 'close()')).resolves.toBe('closed');
    await expect(within(20, new Promise(() => undefined), 'close() to return')).rejects.toThrow(
      'timed out after 20 ms waiting for close() to return',
    );
  });
});
