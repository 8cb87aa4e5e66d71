import { orderDeliveryLimitMs } from './order-delivery.limits';

describe('orderDeliveryLimitMs', () => {
  const limits = { eventTimeoutMs: 1_000, stepDelayMs: 0 };

  it('adds every attempt at its time limit and the default backoffs between them', () => {
    // 12 attempts of 1 s, and 11 backoffs: 100, 200, … 6 400 ms, then 10 s (the cap) four times.
    expect(orderDeliveryLimitMs({ ...limits, maxAttempts: 12 })).toBe(
      12_000 + (100 + 200 + 400 + 800 + 1_600 + 3_200 + 6_400) + 4 * 10_000,
    );
    expect(orderDeliveryLimitMs({ ...limits, maxAttempts: 1 })).toBe(1_000);
    expect(orderDeliveryLimitMs({ ...limits, maxAttempts: 3 })).toBe(3_000 + 100 + 200);
  });

  it('answers at once for the largest MAX_RETRIES the configuration takes (it looped once per attempt, for ever)', () => {
    const maxAttempts = 2 ** 53 - 1; // MAX_RETRIES 2^53 - 2, + 1
    const started = process.hrtime.bigint();
    const bound = orderDeliveryLimitMs({ ...limits, maxAttempts });
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(50);
    expect(bound).toBeGreaterThan(maxAttempts * 1_000);
    expect(Number.isFinite(bound)).toBe(true);
  });
});
