import { contractsSerializer } from '@causeway/contracts';
import { createMessage, InMemoryEventStore, type NewDeadLetter } from '@causeway/cqrs-core';
import { RedisDeadLetterQueue } from '@causeway/cqrs-core/redis';
import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import Redis from 'ioredis';
import { ProgressRetentionJob } from '../src/retention/progress-retention.job';
import { InMemoryTaskExpiries } from '../src/retention/task-expiries';
import { expirerOf } from './retention.expirer';

const ns = testNamespace('opletters');
const DAY = 86_400_000;
const TOPIC = 'orders';
const OLD = 3;
const YOUNG = 2_000;

function letter(n: number, at: number): NewDeadLetter {
  return {
    // Of another type than OrderPlaced: only purged (no order to end first).
    envelope: createMessage({
      type: 'Other',
      data: { n },
      category: 'event',
      aggregateId: `a${n}`,
    }),
    originalTopic: TOPIC,
    position: `${n}-0`,
    group: 'order-processor.orders',
    handler: 'orders',
    reason: 'failed',
    errorName: 'Error',
    attempts: 3,
    deadLetteredAt: new Date(at).toISOString(),
  };
}

/** The client, counting the stream entries Redis returns to XRANGE and XREVRANGE. */
function counting(client: Redis): { client: Redis; entriesRead: () => number } {
  let read = 0;
  const proxy = new Proxy(client, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      if (property !== 'xrange' && property !== 'xrevrange') return value.bind(target);
      return async (...args: unknown[]) => {
        const entries = (await (value as (...a: unknown[]) => Promise<unknown[]>).apply(
          target,
          args,
        )) as unknown[];
        read += entries.length;
        return entries;
      };
    },
  });
  return { client: proxy, entriesRead: () => read };
}

// A review (session 43): each retention run read every dead letter of the order topic, twice
// (listing by `deadLetteredBefore`, then purging by it): on Redis the whole stream, however few
// letters were due, once a minute on every instance.
describe('order-processor retention of the order topic’s dead letters on Redis', () => {
  const redis = new Redis(ns.redisUrl, { lazyConnect: true });

  beforeAll(() => redis.connect());
  afterAll(async () => {
    redis.disconnect();
    await removeNamespaceData(ns, ['redis']);
  }, 60_000);

  it('reads the letters due and a page past them, not the whole stream', async () => {
    const now = Date.now();
    const writer = new RedisDeadLetterQueue(redis, { keyPrefix: ns.keyPrefix });
    for (let n = 0; n < OLD; n++) await writer.add(letter(n, now - 2 * DAY + n));
    for (let from = 0; from < YOUNG; from += 200)
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => writer.add(letter(OLD + from + i, now - 1_000))),
      );
    const { client, entriesRead } = counting(redis);
    const queue = new RedisDeadLetterQueue(client, { keyPrefix: ns.keyPrefix });
    const store = new InMemoryEventStore({ serializer: contractsSerializer() });
    const job = new ProgressRetentionJob({
      store,
      expiries: new InMemoryTaskExpiries(),
      expirer: expirerOf(store),
      deadLetters: { queue, topic: TOPIC },
      ttlMs: DAY,
      now: () => now,
    });

    expect(await job.runOnce()).toMatchObject({ deadLetters: OLD, failed: 0 });
    // The due letters and a page after them (the reads go a page of the queue at a time).
    expect(entriesRead()).toBeLessThanOrEqual(2 * (OLD + 500) + 2);
    expect((await writer.stats()).total).toBe(YOUNG);

    // Nothing due: a page is read.
    const before = entriesRead();
    expect(await job.runOnce()).toMatchObject({ deadLetters: 0, failed: 0 });
    expect(entriesRead() - before).toBeLessThanOrEqual(500 + 1);
  }, 60_000);
});
