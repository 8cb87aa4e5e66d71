import { contractsSerializer, type OrderPlaced } from '@causeway/contracts';
import { InMemoryEventStore } from '@causeway/cqrs-core';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { OrderProcessor } from '../orders/order.processor';
import { ProgressRetentionJob } from './progress-retention.job';
import { InMemoryTaskExpiries } from './task-expiries';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-25T12:00:00.000Z');
/** More than one of the job's pages (100 tasks). */
const RUNNING = 130;

/**
 * The in-memory index, answering at most `pages` calls of `due`: a run that keeps asking (the
 * same page over and over) fails instead of spinning for ever, the in-memory stores' promises
 * leaving no turn to the test's timeout.
 */
class BoundedIndex extends InMemoryTaskExpiries {
  asked = 0;

  constructor(private readonly pages: number) {
    super();
  }

  override async due(beforeMs: number, limit: number): Promise<string[]> {
    if (++this.asked > this.pages) throw new Error(`due asked ${this.asked} times: the run spins`);
    return super.due(beforeMs, limit);
  }
}

describe('a retention run over more due tasks than a page, their orders running here', () => {
  it('ends, looking at each once, and reports them skipped', async () => {
    const store = new InMemoryEventStore({ serializer: contractsSerializer() });
    const expiries = new BoundedIndex(20);
    // This instance runs RUNNING orders whose last step (STARTED) is older than the TTL: its
    // clock was behind, or a step's store call hung. They are alive: expire leaves them alone.
    let started = 0;
    let allStarted!: () => void;
    const startedAll = new Promise<void>((resolve) => (allStarted = resolve));
    const processor = new OrderProcessor({
      store,
      statuses: new InMemoryProgressStatuses({ ttlMs: DAY, now: () => NOW }),
      notifications: new InMemoryNotificationLog(),
      rules: { catalog: { apple: { stock: 1_000, priceCents: 100 } }, paymentLimitCents: 10_000 },
      serverId: 'op-1',
      now: () => new Date(NOW - 2 * DAY),
      stepDelayMs: 3_600_000,
      onEvent: async (event) => {
        await expiries.touch(event.taskId, Date.parse(event.timestamp));
        if (event.eventType === 'STARTED' && ++started === RUNNING) allStarted();
      },
    });
    const orders = Array.from({ length: RUNNING }, (_, i): OrderPlaced => {
      return {
        taskId: `t-${String(i).padStart(3, '0')}`,
        userId: 'ash',
        items: [{ sku: 'apple', quantity: 1 }],
        placedAt: new Date(NOW - 2 * DAY).toISOString(),
      };
    });
    // One signal each, as the consumer gives each delivery its own.
    const stops = orders.map(() => new AbortController());
    const running = orders.map((order, i) =>
      processor.handle(order, stops[i]!.signal).catch(() => null),
    );
    await startedAll;

    const errors: unknown[] = [];
    const job = new ProgressRetentionJob({
      store,
      expiries,
      expirer: processor,
      ttlMs: DAY,
      now: () => NOW,
      onError: (error) => errors.push(error),
      onTaskError: (_taskId, error) => errors.push(error),
    });
    const run = await job.runOnce();
    for (const stop of stops) stop.abort();
    await Promise.all(running);
    expect({ errors, run }).toEqual({
      errors: [],
      run: { deleted: 0, expired: 0, deadLetters: 0, failed: 0, skipped: RUNNING },
    });
    // Each looked at once: a page of 100, then the other 30 behind them.
    expect(expiries.asked).toBe(2);
    // Still due, retired at a later run once their orders are no longer running here.
    expect(await expiries.due(NOW - DAY, 1_000)).toHaveLength(RUNNING);
    await job.stop();
  });
});
