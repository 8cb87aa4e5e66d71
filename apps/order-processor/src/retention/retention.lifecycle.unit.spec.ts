import { contractsSerializer } from '@causeway/contracts';
import { InMemoryEventStore } from '@causeway/cqrs-core';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { OrderProcessor } from '../orders/order.processor';
import { type ProgressRetentionRun, ProgressRetentionJob } from './progress-retention.job';
import { RetentionLifecycle } from './retention.lifecycle';
import { InMemoryTaskExpiries } from './task-expiries';

/**
 * The stores failing to initialise once at start (MongoDB restarting meanwhile): retention
 * asked `ready` once and, refused, never started — expired histories were kept for the life
 * of the process (SPEC S3-7), though the stores came back a moment later.
 */
describe('RetentionLifecycle when the stores fail to initialise at first', () => {
  it('asks `ready` again until it succeeds, then runs retention', async () => {
    const store = new InMemoryEventStore({ serializer: contractsSerializer() });
    const expiries = new InMemoryTaskExpiries();
    const notifications = new InMemoryNotificationLog();
    const runs: ProgressRetentionRun[] = [];
    let ran = () => {};
    const firstRun = new Promise<void>((resolve) => (ran = resolve));
    const job = new ProgressRetentionJob({
      store,
      expiries,
      expirer: new OrderProcessor({
        store,
        statuses: new InMemoryProgressStatuses({ ttlMs: 60_000 }),
        notifications,
        rules: { catalog: {}, paymentLimitCents: 0 },
        serverId: 'op-1',
        now: () => new Date(),
        stepDelayMs: 0,
      }),
      ttlMs: 60_000,
      intervalMs: 20,
      onRun: (run) => {
        runs.push(run);
        ran();
      },
    });
    let asked = 0;
    const lifecycle = new RetentionLifecycle({
      job,
      ready: async () => {
        if (++asked === 1) throw new Error('connection 7 closed during createIndexes');
      },
    });
    lifecycle.onApplicationBootstrap();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'no run'>((resolve) => {
      timer = setTimeout(() => resolve('no run'), 3_000);
    });
    try {
      expect(await Promise.race([firstRun.then(() => 'ran'), timeout])).toBe('ran');
      expect(asked).toBe(2);
    } finally {
      clearTimeout(timer);
      await lifecycle.beforeApplicationShutdown();
    }
  });
});
