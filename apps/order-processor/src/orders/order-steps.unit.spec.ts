import { type OrderPlaced, type ProgressEvent, progressStatusOf } from '@causeway/contracts';
import { nextProgressEvent, type OrderRules } from './order-steps';

const rules: OrderRules = {
  catalog: { apple: { stock: 10, priceCents: 50 }, piano: { stock: 2, priceCents: 500_000 } },
  paymentLimitCents: 100_000,
};
const at = (second: number) => new Date(`2026-11-25T10:00:0${second}.000Z`);

function order(items: OrderPlaced['items']): OrderPlaced {
  return { taskId: 't-1', userId: 'ash', items, placedAt: '2026-11-25T09:59:59.000Z' };
}

/** Every event the steps produce for an order, as the consumer would store them. */
function run(placed: OrderPlaced): ProgressEvent[] {
  const events: ProgressEvent[] = [];
  for (let second = 0; second < 9; second++) {
    const next = nextProgressEvent(placed, rules, progressStatusOf(events), at(second));
    if (!next) return events;
    events.push(next);
  }
  throw new Error('the steps never finished');
}

describe('order steps (S3-2)', () => {
  it('runs STARTED, the three steps at 25/50/75 % and COMPLETED at 100 %, with stable ids', () => {
    const events = run(order([{ sku: 'apple', quantity: 3 }]));
    expect(events.map((e) => [e.eventType, e.currentStep, e.percentage, e.stepName])).toEqual([
      ['STARTED', 0, 0, 'started'],
      ['PROGRESS', 1, 25, 'validate order'],
      ['PROGRESS', 2, 50, 'check stock'],
      ['PROGRESS', 3, 75, 'process payment'],
      ['COMPLETED', 4, 100, 'complete'],
    ]);
    expect(events.map((e) => e.eventId)).toEqual([
      't-1:0:STARTED',
      't-1:1:PROGRESS',
      't-1:2:PROGRESS',
      't-1:3:PROGRESS',
      't-1:4:COMPLETED',
    ]);
    expect(events.every((e) => e.totalSteps === 4 && e.userId === 'ash')).toBe(true);
    expect(events[2]!.timestamp).toBe('2026-11-25T10:00:02.000Z');
  });

  it('fails an unknown sku at validate order, naming it', () => {
    const events = run(order([{ sku: 'pear', quantity: 1 }]));
    expect(events.at(-1)).toMatchObject({
      eventType: 'FAILED',
      currentStep: 1,
      percentage: 0,
      stepName: 'validate order',
      reason: 'unknown sku pear',
      eventId: 't-1:1:FAILED',
    });
    expect(events).toHaveLength(2);
  });

  it('fails an sku named like an Object property (constructor, toString, __proto__) as unknown', () => {
    // `in` and `catalog[sku]` see Object.prototype: such an sku passed every step, its NaN
    // price made any total pass the payment limit — a piano over the limit was accepted.
    for (const sku of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const events = run(order([{ sku, quantity: 1 }]));
      expect(events.at(-1)).toMatchObject({
        eventType: 'FAILED',
        stepName: 'validate order',
        reason: `unknown sku ${sku}`,
      });
    }
    const withPiano = run(
      order([
        { sku: 'piano', quantity: 1 },
        { sku: 'valueOf', quantity: 1 },
      ]),
    );
    expect(withPiano.at(-1)).toMatchObject({ eventType: 'FAILED', stepName: 'validate order' });
    expect(withPiano.some((e) => e.eventType === 'COMPLETED')).toBe(false);
  });

  it('fails more than the stock at check stock, counting an sku listed twice once', () => {
    const events = run(
      order([
        { sku: 'apple', quantity: 6 },
        { sku: 'apple', quantity: 5 },
      ]),
    );
    expect(events.at(-1)).toMatchObject({
      eventType: 'FAILED',
      currentStep: 2,
      percentage: 25,
      stepName: 'check stock',
      reason: 'not enough stock of apple: 11 ordered, 10 in stock',
    });
  });

  it('refuses a payment over the limit at process payment', () => {
    const events = run(order([{ sku: 'piano', quantity: 1 }]));
    expect(events.at(-1)).toMatchObject({
      eventType: 'FAILED',
      currentStep: 3,
      percentage: 50,
      stepName: 'process payment',
      reason: 'payment refused: the total 500000 cents is over the limit of 100000',
    });
  });

  it('resumes after the last stored step and produces nothing once finished', () => {
    const placed = order([{ sku: 'apple', quantity: 1 }]);
    const all = run(placed);
    // A redelivery after a crash at 50 %: the next step is payment, the same event as before.
    const resumed = nextProgressEvent(placed, rules, progressStatusOf(all.slice(0, 3)), at(3));
    expect(resumed).toEqual(all[3]);
    expect(nextProgressEvent(placed, rules, progressStatusOf(all), at(8))).toBeUndefined();
  });
});
