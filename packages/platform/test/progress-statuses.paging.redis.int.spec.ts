import { type ProgressStatus } from '@causeway/contracts';
import Redis from 'ioredis';
import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import { InMemoryProgressStatuses, RedisProgressStatuses, taskPositionOf } from '../src';
import { type TaskPosition } from '../src/progress/progress-statuses.port';

const ns = testNamespace('statuspaging');
const TTL = 600_000;

function status(taskId: string, eventCount: number, updatedAt: number): ProgressStatus {
  return {
    taskId,
    userId: 'ash',
    currentStep: 0,
    totalSteps: 4,
    percentage: 0,
    stepName: 's',
    status: eventCount === 0 ? 'ACCEPTED' : 'PROGRESS',
    startedAt: new Date(updatedAt).toISOString(),
    updatedAt: new Date(updatedAt).toISOString(),
    eventCount,
  };
}

const trace: string[] = [];
/** ProgressReads.ofUser's loop: limit + 1 read, `next` while more than limit came back. */
async function pageAll(
  statuses: { ofUser(u: string, l: number, b?: TaskPosition): Promise<ProgressStatus[]> },
  limit: number,
): Promise<string[]> {
  const seen: string[] = [];
  let before: TaskPosition | undefined;
  for (;;) {
    const listed = await statuses.ofUser('ash', limit + 1, before);
    trace.push(`${before?.taskId ?? '-'} -> ${listed.map((r) => r.taskId).join(',')}`);
    const shown = listed.slice(0, limit);
    seen.push(...shown.map((row) => row.taskId));
    if (listed.length <= limit) return seen;
    before = taskPositionOf(shown[shown.length - 1]!);
  }
}

// Paging a user's tasks in Redis: the same pages as in memory, and no task left out while other
// tasks of the user are being updated (each page is read by one script, at one instant).
describe('paging a user’s tasks in Redis', () => {
  let redis: Redis;
  let writer: Redis;
  beforeAll(() => {
    redis = new Redis(ns.redisUrl);
    writer = new Redis(ns.redisUrl);
  });
  afterAll(async () => {
    redis.disconnect();
    writer.disconnect();
    await removeNamespaceData(ns, ['redis']);
  });

  it('lists the same pages as the in-memory store, ties included (random)', async () => {
    const redisStatuses = new RedisProgressStatuses({
      client: redis,
      keyPrefix: `${ns.keyPrefix}ties:`,
      ttlMs: TTL,
    });
    const memory = new InMemoryProgressStatuses({ ttlMs: TTL });
    const base = Date.now() - 60_000;
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 120; i++) {
      const row = status(`t-${rand(1000).toString(36)}-${i}`, 1, base + rand(8));
      await redisStatuses.apply(row);
      await memory.apply(row);
    }
    for (const limit of [1, 2, 3, 7, 20]) {
      const fromRedis = await pageAll(redisStatuses, limit);
      expect(fromRedis).toEqual(await pageAll(memory, limit));
      expect(new Set(fromRedis).size).toBe(120);
    }
  });

  it('lists every task not updated meanwhile, while other tasks are being updated', async () => {
    const prefix = `${ns.keyPrefix}live:`;
    const statuses = new RedisProgressStatuses({ client: redis, keyPrefix: prefix, ttlMs: TTL });
    const writes = new RedisProgressStatuses({ client: writer, keyPrefix: prefix, ttlMs: TTL });
    const base = Date.now() - 300_000;
    const count = new Map<string, number>();
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) {
      const id = `t-${String(i).padStart(4, '0')}`;
      ids.push(id);
      count.set(id, 1);
      await statuses.apply(status(id, 1, base + i * 10));
    }
    // Another order's steps land meanwhile: tasks move to the front (documented: they may be
    // left out). Every other task must still be listed.
    const touched = new Set<string>();
    let stop = false;
    const updater = (async () => {
      let n = 0;
      while (!stop) {
        const id = ids[(n++ * 7919) % ids.length]!;
        touched.add(id);
        const next = count.get(id)! + 1;
        count.set(id, next);
        await writes.apply(status(id, next, Date.now()));
      }
    })();
    const missing: string[] = [];
    try {
      for (let round = 0; round < 15 && missing.length === 0; round++) {
        trace.length = 0;
        const seen = new Set(await pageAll(statuses, 3));
        missing.push(...ids.filter((id) => !touched.has(id) && !seen.has(id)));
      }
    } finally {
      stop = true;
      await updater;
    }
    expect({ missing: missing.length, lastPages: missing.length ? trace.slice(-3) : [] }).toEqual({
      missing: 0,
      lastPages: [],
    });
  }, 120_000);
});
