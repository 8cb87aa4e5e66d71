import { spawn } from 'node:child_process';
import path from 'node:path';
import Redis from 'ioredis';
import mongoose from 'mongoose';
import { z } from 'zod';
import { testNamespace } from '@causeway/testkit';
import { SerializerRegistry } from '../src';
import { RedisStreamsSubscriber } from '../src/redis';
import { MongoEventStore } from '../src/mongodb';

// Issue 4, item 7: events appended to the event store reach the bus at least once, in stream
// order per aggregate, even when the publishing process is SIGKILLed between append and
// publish. The writer runs as a real process and is killed at random moments until it has
// appended and forwarded all 1 000 events; a consumer deduplicating by messageId must then
// have seen every event exactly once, each aggregate's events in version order. Run with the
// rounds alone, with eager forwarding (each append published right after it), and with eager
// forwarding and a forward ledger (rounds pass what was recorded without reading the store).
const STREAMS = 10;
const PER_STREAM = 100;
const TOTAL = STREAMS * PER_STREAM;

describe.each([
  ['rounds', '0', '0'],
  ['eager forwarding', '1', '0'],
  ['eager forwarding and a forward ledger', '1', '1'],
])('outbox under SIGKILL (%s)', (_mode, eager, ledger) => {
  const ns = testNamespace('outbox');
  const serializer = new SerializerRegistry().register(
    'OutboxTest',
    z.object({ stream: z.string(), version: z.number() }),
  );

  it('delivers all 1 000 appended events exactly once after deduplication, in per-aggregate order', async () => {
    const redis = new Redis(ns.redisUrl);
    const subscriber = new RedisStreamsSubscriber({
      client: redis,
      serializer,
      keyPrefix: ns.keyPrefix,
      claimIdleMs: 1_000,
    });
    const firstSeen = new Map<string, { stream: string; version: number }>();
    let deliveries = 0;
    await subscriber.subscribe(
      ['events.OutboxTest'],
      { group: 'verifier', consumer: 'v1', maxInFlight: 64 },
      async (delivery) => {
        deliveries++;
        if (!firstSeen.has(delivery.envelope.messageId))
          firstSeen.set(
            delivery.envelope.messageId,
            delivery.envelope.data as { stream: string; version: number },
          );
      },
    );

    const env = {
      ...process.env,
      MONGODB_URI: ns.mongoUri(),
      REDIS_URL: ns.redisUrl,
      KEY_PREFIX: ns.keyPrefix,
      STREAMS: String(STREAMS),
      PER_STREAM: String(PER_STREAM),
      EAGER: eager,
      LEDGER: ledger,
    };
    let kills = 0;
    let done = false;
    while (!done) {
      const child = spawn(
        process.execPath,
        [path.join(__dirname, 'fixtures', 'outbox-writer.cjs')],
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const finished = new Promise<boolean>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('DONE')) resolve(true);
        });
        child.once('exit', (code, signal) => {
          if (signal === 'SIGKILL') resolve(false);
          else reject(new Error(`writer exited on its own (${code}): ${stderr}`));
        });
      });
      // Early runs die at a random moment; after 8 kills the writer is allowed to finish.
      const killAfter = kills < 8 ? 300 + Math.random() * 1_200 : 120_000;
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfter);
      done = await finished;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      if (!done) kills++;
    }

    const deadline = Date.now() + 60_000;
    while (firstSeen.size < TOTAL && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    await subscriber.close();
    redis.disconnect();

    expect(kills).toBeGreaterThanOrEqual(8);
    expect(firstSeen.size).toBe(TOTAL);
    expect(deliveries).toBeGreaterThanOrEqual(TOTAL); // at least once; duplicates are fine
    const versionsByStream = new Map<string, number[]>();
    for (const { stream, version } of firstSeen.values())
      versionsByStream.set(stream, [...(versionsByStream.get(stream) ?? []), version]);
    for (let s = 0; s < STREAMS; s++) {
      expect(versionsByStream.get(`s${s}`)).toEqual(
        Array.from({ length: PER_STREAM }, (_, i) => i + 1),
      );
    }

    // The store holds each event exactly once despite the restarts.
    const connection = await mongoose.createConnection(ns.mongoUri()).asPromise();
    try {
      const store = new MongoEventStore({ connection, serializer });
      await store.init();
      expect(await store.readAll({ limit: 10_000 })).toHaveLength(TOTAL);
    } finally {
      await connection.dropDatabase();
      await connection.close();
    }
  }, 240_000);
});
