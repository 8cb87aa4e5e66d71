import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { MessageFactory, SerializerRegistry } from '@causeway/cqrs-core';
import { RedisStreamsPublisher, RedisStreamsSubscriber } from '@causeway/cqrs-core/redis';
import { testNamespace } from '@causeway/testkit';
import Redis from 'ioredis';
import { z } from 'zod';

// Issue 4, per-key order with competing consumers: a consumer whose process is stopped for
// longer than its partition lease (SIGSTOP: a stalled event loop, a paused VM) and then resumes
// must take nothing more of the partitions another consumer took over meanwhile. Before the
// fix it read them at once on resuming, with its stale view, and a key's new messages were
// split between the two consumers (found by a multi-process acceptance test, session 10).
const ns = testNamespace('stalled');
const TIMING = { leaseTtlMs: 1_500, heartbeatMs: 250, blockMs: 250, claimIdleMs: 3_000 };
const KEYS = Array.from({ length: 16 }, (_, i) => `key-${i}`);
/** Each handling takes this long: a busy consumer leaves gaps between its reads. */
const WORK_MS = 20;
const HANDLED = `${ns.keyPrefix}handled`;
const serializer = new SerializerRegistry().register(
  'Seq',
  z.object({ key: z.string(), seq: z.number() }),
);
const factory = new MessageFactory();
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Handling {
  key: string;
  seq: number;
  by: string;
}

describe('a Redis Streams consumer stalled past its lease', () => {
  const redis = new Redis(ns.redisUrl);
  const publisher = new RedisStreamsPublisher({
    client: redis,
    serializer,
    keyPrefix: ns.keyPrefix,
  });
  const live = new RedisStreamsSubscriber({
    client: redis,
    serializer,
    keyPrefix: ns.keyPrefix,
    ...TIMING,
  });
  let child: ChildProcess | undefined;
  let recorder: Redis | undefined;
  let publishing = false;

  afterAll(async () => {
    publishing = false;
    child?.kill('SIGKILL');
    recorder?.disconnect(); // also when an assertion failed midway
    await live.close();
    await publisher.close();
    const keys = await redis.keys(`${ns.keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('takes nothing of the partitions another consumer took over while it was stopped', async () => {
    child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'stalled-consumer.cjs')], {
      env: {
        ...process.env,
        REDIS_URL: ns.redisUrl,
        KEY_PREFIX: ns.keyPrefix,
        HANDLED,
        WORK_MS: String(WORK_MS),
        TIMING: JSON.stringify(TIMING),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      child!.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('READY')) resolve();
      });
      child!.once('exit', (code) => reject(new Error(`consumer exited (${code}): ${stderr}`)));
    });
    const records = new Redis(ns.redisUrl);
    recorder = records;
    await live.subscribe(
      ['events.Seq'],
      { group: 'g', consumer: 'live', maxInFlight: 8 },
      async (delivery) => {
        const { key, seq } = delivery.envelope.data as { key: string; seq: number };
        await wait(WORK_MS);
        await records.rpush(HANDLED, JSON.stringify({ key, seq, by: 'live' }));
      },
    );

    // Every key gets a message every 25 ms, before, during and after the stop: more than one
    // consumer alone handles, so the one left alone builds a backlog the stalled one could read.
    let seq = 0;
    publishing = true;
    const published = (async () => {
      while (publishing) {
        seq++;
        await publisher.publish(
          'events.Seq',
          KEYS.map((key) => factory.event('Seq', { key, seq }, { aggregateId: key })),
        );
        await wait(25);
      }
    })();
    const handled = async () =>
      (await redis.lrange(HANDLED, 0, -1)).map((text) => JSON.parse(text) as Handling);
    // Both consumers own partitions: the stopped one has keys to lose. Waited for, not slept:
    // on a busy machine the child can take seconds to handle its first message.
    const consumers = async () => new Set((await handled()).map((h) => h.by));
    const deadline = Date.now() + 15_000;
    while ((await consumers()).size < 2 && Date.now() < deadline) await wait(100);
    expect(await consumers()).toEqual(new Set(['stalled', 'live']));
    child.kill('SIGSTOP');
    await wait(3 * TIMING.leaseTtlMs);
    child.kill('SIGCONT');
    await wait(2_000);
    publishing = false;
    await published;
    const total = seq * KEYS.length;
    for (let i = 0; i < 200; i++) {
      const keys = new Set((await handled()).map((h) => `${h.key}#${h.seq}`));
      if (keys.size >= total) break;
      await wait(100);
    }

    const seen = new Map<string, Set<number>>();
    const highest = new Map<string, number>();
    const late: string[] = [];
    for (const { key, seq: n, by } of await handled()) {
      const first = !(seen.get(key)?.has(n) ?? false);
      if (!seen.has(key)) seen.set(key, new Set());
      seen.get(key)!.add(n);
      // A first handling after a later message of its key: the key's order broke.
      if (first && n < (highest.get(key) ?? 0)) late.push(`${key}#${n} by ${by}`);
      highest.set(key, Math.max(n, highest.get(key) ?? 0));
    }
    expect(late).toEqual([]);
    for (const key of KEYS) expect(seen.get(key)?.size).toBe(seq);
  }, 60_000);
});
