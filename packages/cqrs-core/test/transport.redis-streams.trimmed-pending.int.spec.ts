import Redis from 'ioredis';
import { Registry } from 'prom-client';
import { testNamespace } from '@causeway/testkit';
import { conformanceMessage, conformanceSerializer } from '../src/testing';
import {
  RedisStreamsPublisher,
  RedisStreamsSubscriber,
  StreamKeys,
  TRIM_WARNING,
  type TrimmedUnread,
} from '../src/redis';
import { type Delivery } from '../src';

const ns = testNamespace('trimpend');

const nOf = (d: Delivery) => (d.envelope.data as { n: number }).n;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Trimming (`maxLenPerStream`) also removes entries a group read and never acknowledged: a
 * dead consumer's, or a failed one's waiting for its retry. Redis drops them from the pending
 * list when a claim meets them; the subscriber must not let them vanish without a word.
 */
describe('Redis Streams: pending entries removed by trimming', () => {
  const client = new Redis(ns.redisUrl);
  const serializer = conformanceSerializer();
  const layout = { keyPrefix: ns.keyPrefix, partitions: 1 };
  const publisher = new RedisStreamsPublisher({
    ...layout,
    client,
    serializer,
    maxLenPerStream: 50,
  });
  const open: RedisStreamsSubscriber[] = [];
  const subscriber = (
    extra: Partial<ConstructorParameters<typeof RedisStreamsSubscriber>[0]> = {},
  ) => {
    const s = new RedisStreamsSubscriber({
      ...layout,
      client,
      serializer,
      blockMs: 100,
      heartbeatMs: 100,
      leaseTtlMs: 500,
      claimIdleMs: 300,
      redeliveryDelayMs: 200,
      ...extra,
    });
    open.push(s);
    return s;
  };

  afterAll(async () => {
    await Promise.all(open.map((s) => s.close().catch(() => undefined)));
    const keys = await client.keys(`${ns.keyPrefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  /**
   * Publishes n = from … from + count − 1, each under a key of its own, in batches of 10, each
   * once the group handled the previous one: the stream is trimmed past older entries while the
   * group keeps up with the new ones.
   */
  async function traffic(topic: string, from: number, count: number, handled: () => number) {
    const start = handled();
    for (let i = from; i < from + count; i += 10) {
      const batch = Array.from({ length: Math.min(10, from + count - i) }, (_, j) =>
        conformanceMessage(i + j, `k${i + j}`),
      );
      await publisher.publish(topic, batch);
      const target = start + i + batch.length - from;
      await until(() => handled() >= target, `the group to handle up to ${i + batch.length}`);
    }
  }

  /**
   * A consumer starts entry 0 (key 'stuck') and never finishes it, handles 400 more entries of
   * other keys meanwhile (the stream is trimmed past entry 0), then dies. Resolves entry 0's id,
   * trimmed from the stream and still pending in the group.
   */
  async function deadConsumerWithTrimmedEntry(topic: string): Promise<string> {
    const stream = new StreamKeys(layout).stream(topic, 'normal', 0);
    await publisher.publish(topic, [conformanceMessage(0, 'stuck')]);
    const [[stuckId]] = (await client.xrange(stream, '-', '+')) as [[string, string[]]];
    const doomed = subscriber();
    let started = false;
    const handled: number[] = [];
    await doomed.subscribe([topic], { group: 'g', consumer: 'doomed' }, async (d) => {
      if (nOf(d) === 0) {
        started = true;
        await new Promise(() => undefined); // the process dies during this call
      }
      handled.push(nOf(d));
    });
    await until(() => started, 'the first delivery');
    await traffic(topic, 1, 400, () => handled.length);
    await sleep(300); // the last XACKs are written
    doomed.kill();
    const left = (await client.xrange(stream, '-', '+')) as [string, string[]][];
    expect(left.some(([id]) => id === stuckId)).toBe(false);
    expect(await client.xpending(stream, 'g')).toEqual([1, stuckId, stuckId, [['doomed', '1']]]);
    return stuckId!;
  }

  it("tells onTrimmed, and counts, a dead consumer's unacknowledged entry that trimming removed", async () => {
    const topic = ns.topic('dead');
    const stream = new StreamKeys(layout).stream(topic, 'normal', 0);
    const stuckId = await deadConsumerWithTrimmedEntry(topic);

    const registry = new Registry();
    const losses: (TrimmedUnread & { topic: string })[] = [];
    await subscriber({ registry, onTrimmed: (loss) => losses.push(loss) }).subscribe(
      [topic],
      { group: 'g', consumer: 'heir' },
      async () => undefined,
    );
    await until(() => losses.length > 0, 'the report', 5_000);
    const counted = await registry
      .getSingleMetric('causeway_consumer_trimmed_pending_total')
      ?.get();
    expect({
      losses,
      counted: counted?.values.map(({ labels, value }) => ({ labels, value })),
      pending: Number(((await client.xpending(stream, 'g')) as unknown[])[0]),
    }).toEqual({
      losses: [{ topic, stream, group: 'g', count: 1, pendingIds: [stuckId] }],
      counted: [{ labels: { topic, group: 'g' }, value: 1 }],
      pending: 0,
    });
  });

  it("warns (CausewayTrimWarning) of a dead consumer's unacknowledged entry that trimming removed when there is no onTrimmed", async () => {
    const topic = ns.topic('warned');
    const stuckId = await deadConsumerWithTrimmedEntry(topic);

    // Observed, not replaced (jest's sandboxed `process` passes no warning to listeners).
    const warn = jest.spyOn(process, 'emitWarning');
    const trimWarnings = () =>
      warn.mock.calls
        .filter(([, options]) => (options as { type?: string } | undefined)?.type === TRIM_WARNING)
        .map(([message]) => String(message));
    let warning: string | undefined;
    try {
      await subscriber().subscribe(
        [topic],
        { group: 'g', consumer: 'heir' },
        async () => undefined,
      );
      await until(() => trimWarnings().length > 0, 'the warning', 5_000);
      [warning] = trimWarnings();
    } finally {
      warn.mockRestore();
    }
    expect(warning).toContain(`1 entries of ${topic}`);
    expect(warning).toContain('never acknowledged were trimmed before they ran again');
    expect(warning).toContain(stuckId);
  });

  it('runs a failed message again, in key order, although trimming removed its entry before the retry', async () => {
    const topic = ns.topic('retry');
    await publisher.publish(topic, [conformanceMessage(0, 'flaky')]);
    const flaky: { n: number; attempt: number }[] = [];
    const handled: number[] = [];
    const warn = jest.spyOn(process, 'emitWarning');
    let warnings: string[] = [];
    try {
      await subscriber({ redeliveryDelayMs: 3_000 }).subscribe(
        [topic],
        { group: 'g', consumer: 'c' },
        async (d) => {
          if (d.envelope.aggregateId === 'flaky') {
            flaky.push({ n: nOf(d), attempt: d.attempt });
            if (d.attempt === 1 && nOf(d) === 0) throw new Error('database briefly down');
          }
          handled.push(nOf(d));
        },
      );
      await until(() => flaky.length === 1, 'the first attempt');
      // The key's next message waits behind the failed one.
      await publisher.publish(topic, [conformanceMessage(1_000, 'flaky')]);
      // During the redelivery delay, traffic of other keys trims the stream past both.
      await traffic(topic, 1, 400, () => handled.length);
      await until(() => flaky.length === 3, 'the retry and the next message', 6_000);
      await sleep(300);
      warnings = warn.mock.calls.map(([message]) => String(message));
    } finally {
      warn.mockRestore();
    }
    expect({ flaky, warnings }).toEqual({
      flaky: [
        { n: 0, attempt: 1 },
        { n: 0, attempt: 2 },
        { n: 1_000, attempt: 1 },
      ],
      warnings: [],
    });
  });

  /**
   * A message fails (attempt 1); during its redelivery delay traffic trims the stream past it,
   * so Redis no longer has it pending, and its subscription runs it again from the copy it
   * holds (attempt 2). Resolves once that retry runs; `second` decides how it ends.
   */
  async function retryOfTrimmedEntry(
    topic: string,
    consumer: RedisStreamsSubscriber,
    second: () => Promise<void>,
  ): Promise<void> {
    await publisher.publish(topic, [conformanceMessage(0, 'flaky')]);
    const handled: number[] = [];
    let attempts = 0;
    await consumer.subscribe([topic], { group: 'g', consumer: 'first' }, async (d) => {
      if (d.envelope.aggregateId === 'flaky') {
        attempts = d.attempt;
        if (d.attempt === 1) throw new Error('database briefly down');
        return second();
      }
      handled.push(nOf(d));
    });
    await until(() => attempts === 1, 'the first attempt');
    await traffic(topic, 1, 400, () => handled.length);
    await until(() => attempts === 2, 'the retry from the held copy', 6_000);
  }

  /** What a new consumer of the group gets of key 'flaky', and whether Redis still keeps a copy. */
  async function heirOf(topic: string): Promise<{ n: number; attempt: number }[]> {
    const flaky: { n: number; attempt: number }[] = [];
    await subscriber().subscribe([topic], { group: 'g', consumer: 'heir' }, async (d) => {
      if (d.envelope.aggregateId === 'flaky') flaky.push({ n: nOf(d), attempt: d.attempt });
    });
    await until(() => flaky.length > 0, 'the heir to run the trimmed message', 8_000).catch(
      () => undefined,
    );
    await sleep(500); // no second run of it
    return flaky;
  }

  it("keeps a held entry trimmed before its retry in Redis: a crashed consumer's heir runs it", async () => {
    // A review (session 37): it was held in memory only, and the crash lost it without a word.
    const topic = ns.topic('crash');
    const doomed = subscriber({ redeliveryDelayMs: 3_000 });
    await retryOfTrimmedEntry(topic, doomed, () => new Promise(() => undefined));
    doomed.kill(); // the process dies while the retry runs
    expect(await heirOf(topic)).toEqual([{ n: 0, attempt: 3 }]);
    expect(await client.keys(`${ns.keyPrefix}${topic}:*:trimmed:*`)).toEqual([]);
  });

  it('hands a held entry trimmed before its retry over on close(): the next owner runs it', async () => {
    const topic = ns.topic('closed');
    const leaving = subscriber({ redeliveryDelayMs: 3_000 });
    await retryOfTrimmedEntry(topic, leaving, async () => {
      throw new Error('still down');
    });
    await leaving.close(); // it waits for its next retry
    expect(await heirOf(topic)).toEqual([{ n: 0, attempt: 3 }]);
  });
});
