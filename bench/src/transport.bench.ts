import { randomBytes } from 'node:crypto';
import { type Envelope } from '@causeway/cqrs-core';
import {
  redisConnection,
  RedisStreamsPublisher,
  RedisStreamsSubscriber,
} from '@causeway/cqrs-core/redis';
import Redis from 'ioredis';
import { deleteKeys } from './event-store.bench';
import { kafkaConsume } from './kafka.bench';
import { type Servers } from './servers';
import {
  abba,
  elapsedMs,
  latencyTarget,
  type LatencyRow,
  type Percentiles,
  percentiles,
  pool,
  progress,
  ratioRow,
  Report,
  type Row,
  throughput,
} from './stats';
import { sampleEvent } from './fixtures';
import {
  Counter,
  KEYS,
  MAXLEN,
  messages,
  PARTITIONS,
  rawWire,
  scaled,
  serializer,
  sleep,
  until,
} from './transport.common';

/**
 * Issue 4: Redis Streams publish and consume and publish→handler latency (here), and Kafka
 * consume (kafka.bench.ts), each against the raw client doing the same work on the same keys,
 * topics and message sizes.
 */
async function redisPublish(servers: Servers, report: Report): Promise<void> {
  const prefix = `bench:tp:${randomBytes(4).toString('hex')}:`;
  const connection = redisConnection({ url: servers.redisUrl, name: 'bench-pub' });
  const raw = new Redis(servers.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const publisher = new RedisStreamsPublisher({
    client: connection.client,
    serializer,
    keyPrefix: prefix,
    partitions: PARTITIONS,
    maxLenPerStream: MAXLEN,
  });
  const rows: Row[] = [];
  try {
    await connection.open();
    await raw.connect();
    let run = 0;
    const rawStream = (e: Envelope, i: number) => `${prefix}raw${run}:normal:${i % PARTITIONS}`;
    // The XADD the publisher sends, by hand: one argument list for awaited and pipelined use.
    const xaddArgs = (e: Envelope, i: number) =>
      [
        rawStream(e, i),
        'MAXLEN',
        '~',
        MAXLEN,
        '*',
        'key',
        e.aggregateId,
        'msg',
        rawWire(e),
      ] as const;
    const rawXadd = (e: Envelope, i: number) => raw.xadd(...xaddArgs(e, i));
    const fresh = () => {
      run++;
      return `pub${run}`;
    };

    const n1 = scaled(4_000);
    progress(`transport redis publish: awaited one by one (${n1})`);
    const one = messages(n1);
    const warm = Math.min(500, n1);
    await pool(warm, 1, (i) => rawXadd(one[i]!, i).then(() => undefined)); // warm-up
    await pool(warm, 1, (i) => publisher.publish('warm', [one[i]!]));
    const awaited = await abba(
      () => throughput(n1, () => pool(n1, 1, (i) => rawXadd(one[i]!, i).then(() => undefined))),
      () => {
        const topic = fresh();
        return throughput(n1, () => pool(n1, 1, (i) => publisher.publish(topic, [one[i]!])));
      },
    );
    rows.push(ratioRow('publish, awaited one by one', awaited.ours, awaited.raw, 'msgs/s', 0.8));
    await deleteKeys(raw, prefix);

    const n2 = scaled(30_000);
    progress(`transport redis publish: 64 in flight (${n2})`);
    const many = messages(n2);
    const inFlight = await abba(
      () => throughput(n2, () => pool(n2, 64, (i) => rawXadd(many[i]!, i).then(() => undefined))),
      () => {
        const topic = fresh();
        return throughput(n2, () => pool(n2, 64, (i) => publisher.publish(topic, [many[i]!])));
      },
    );
    rows.push(
      ratioRow(
        'publish, 64 in flight (single messages)',
        inFlight.ours,
        inFlight.raw,
        'msgs/s',
        0.6,
      ),
    );
    await deleteKeys(raw, prefix);

    progress(`transport redis publish: batches of 100 (${n2})`);
    const batches = Array.from({ length: n2 / 100 }, (_, b) => many.slice(b * 100, b * 100 + 100));
    const batched = await abba(
      () =>
        throughput(n2, () =>
          pool(batches.length, 1, async (b) => {
            const pipeline = raw.pipeline();
            batches[b]!.forEach((e, i) => pipeline.xadd(...xaddArgs(e, i)));
            await pipeline.exec();
          }),
        ),
      () => {
        const topic = fresh();
        return throughput(n2, () =>
          pool(batches.length, 1, (b) => publisher.publish(topic, batches[b]!)),
        );
      },
    );
    rows.push(ratioRow('publish, batches of 100', batched.ours, batched.raw, 'msgs/s', 0.6));
    report.table('Redis Streams publish vs raw ioredis XADD', rows);
  } finally {
    await publisher.close();
    await deleteKeys(raw, prefix);
    raw.disconnect();
    await connection.close();
  }
}

async function redisConsume(servers: Servers, report: Report): Promise<void> {
  const prefix = `bench:tc:${randomBytes(4).toString('hex')}:`;
  const connection = redisConnection({ url: servers.redisUrl, name: 'bench-consume' });
  const raw = new Redis(servers.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const layout = { keyPrefix: prefix, partitions: PARTITIONS };
  const publisher = new RedisStreamsPublisher({ client: connection.client, serializer, ...layout });
  const subscriber = new RedisStreamsSubscriber({
    client: connection.client,
    serializer,
    ...layout,
    blockMs: 200,
    heartbeatMs: 200,
    leaseTtlMs: 2_000,
  });
  const rows: Row[] = [];
  try {
    await connection.open();
    await raw.connect();
    const n = scaled(20_000);
    progress(`transport redis consume: filling ${n} messages (and as many to warm up on)`);
    const all = messages(n);
    for (const topic of ['warm', 'consume']) {
      for (let b = 0; b < n; b += 500) await publisher.publish(topic, all.slice(b, b + 500));
    }
    const streamsOf = (topic: string) =>
      Array.from({ length: PARTITIONS }, (_, p) => `${prefix}${topic}:normal:${p}`);

    // Raw: XREADGROUP up to 100 entries per stream, parse each message, one XACK per stream.
    let rawGroups = 0;
    const rawConsume = async (topic = 'consume'): Promise<number> => {
      const streams = streamsOf(topic);
      const group = `raw${rawGroups++}`;
      for (const stream of streams) await raw.xgroup('CREATE', stream, group, '0');
      const counter = new Counter(n);
      const deadline = Date.now() + 60_000;
      while (!counter.done && Date.now() < deadline) {
        const reply = (await raw.xreadgroup(
          'GROUP',
          group,
          'c1',
          'COUNT',
          100,
          'BLOCK',
          200,
          'STREAMS',
          ...streams,
          ...streams.map(() => '>'),
        )) as [string, [string, string[]][]][] | null;
        const acks: Promise<unknown>[] = [];
        for (const [stream, entries] of reply ?? []) {
          for (const [, fields] of entries) {
            JSON.parse(fields[3] ?? 'null');
            counter.hit();
          }
          acks.push(raw.xack(stream, group, ...entries.map(([id]) => id)));
        }
        await Promise.all(acks);
      }
      if (!counter.done) throw new Error(`raw consumer got ${counter.count} of ${n}`);
      return counter.rate;
    };

    let groups = 0;
    const oursConsume = async (maxInFlight: number, topic = 'consume'): Promise<number> => {
      const counter = new Counter(n);
      const handle = await subscriber.subscribe(
        [topic],
        { group: `cw${groups++}`, consumer: 'c1', maxInFlight },
        async () => {
          counter.hit();
        },
      );
      try {
        await until(() => counter.done, 60_000, 'the causeway consumer');
      } finally {
        await handle.close();
      }
      return counter.rate;
    };

    // Warm-up (JIT, heap sizes) on other streams: each side consumes the warm-up topic twice.
    progress('transport redis consume: warm-up');
    for (let round = 0; round < 2; round++) {
      await rawConsume('warm');
      await oursConsume(16, 'warm');
    }
    progress('transport redis consume: default maxInFlight (16)');
    const byDefault = await abba(rawConsume, () => oursConsume(16));
    rows.push(
      ratioRow(
        'consume, no-op handler, maxInFlight 16 (default)',
        byDefault.ours,
        byDefault.raw,
        'msgs/s',
        0.5,
      ),
    );
    progress('transport redis consume: maxInFlight 128');
    const wide = await abba(rawConsume, () => oursConsume(128));
    rows.push(
      ratioRow('consume, no-op handler, maxInFlight 128', wide.ours, wide.raw, 'msgs/s', 0.5),
    );
    report.table('Redis Streams consume vs raw ioredis XREADGROUP/XACK loop', rows);

    // Latency at half the highest rate the consumer sustains end to end (measured here: a
    // publisher at full speed and the consumer together), with the subscription's default
    // settings; and at a light 1 000 msgs/s, the latency floor. Publisher and consumer share this
    // process (and its 2 cores). Half of a rate the consumer cannot follow would only measure a
    // growing queue.
    const endToEnd = await measureEndToEnd(subscriber, publisher, n);
    const latencyRows: LatencyRow[] = [];
    for (const [rate, label] of [
      [
        Math.round(endToEnd / 2),
        `½ of the end-to-end maximum, ${Math.round(endToEnd).toLocaleString('en-US')}`,
      ],
      [1_000, 'light load'],
    ] as const) {
      // A second of the same traffic first, on other streams, for each side, discarded: the
      // first few hundred milliseconds at a new rate run code the optimiser has not compiled
      // for it yet, which a service that has been up for a while does not (session 18, this
      // measurement alone in a script: p99 25–49 ms in the first 5 s, 9–11 ms in the next).
      await measureRawLatency(servers.redisUrl, prefix, rate, 1, 'warm');
      await measureLatency(subscriber, publisher, rate, 1, 'warm');
      const rawLatency = await measureRawLatency(servers.redisUrl, prefix, rate, 5);
      const latency = await measureLatency(subscriber, publisher, rate, 5);
      // The target is judged on the time from the intended send (see paced()).
      const { intended } = latency;
      const seed =
        intended.p50 < 10 && intended.p95 < 50 && intended.p99 < 100 && intended.p999 < 500;
      const what = `at ${rate.toLocaleString('en-US')} msgs/s (${label}), ${(rate * 5).toLocaleString('en-US')} msgs`;
      latencyRows.push(
        {
          benchmark: `raw XADD → XREADGROUP ${what}, from the intended send`,
          latency: rawLatency.intended,
        },
        {
          benchmark: `publish → handler ${what}, from the intended send`,
          latency: intended,
          target: `${latencyTarget('p99', intended.p99, 5)}; seed (p50 < 10, p95 < 50, p99 < 100, p99.9 < 500 ms) ${seed ? 'ok' : 'MISSED'}`,
        },
        {
          benchmark: `raw XADD → XREADGROUP ${what}, from the actual send (the send loop's lateness left out)`,
          latency: rawLatency.actual,
        },
        {
          benchmark: `publish → handler ${what}, from the actual send (the send loop's lateness left out)`,
          latency: latency.actual,
        },
      );
    }
    report.latency('Redis Streams publish → handler latency', latencyRows);
  } finally {
    await subscriber.close();
    await publisher.close();
    await deleteKeys(raw, prefix);
    raw.disconnect();
    await connection.close();
  }
}

/**
 * The highest rate the consumer sustains end to end: `total` single-message publishes, 64 in
 * flight (the publisher's full speed), while the default subscription consumes them in the same
 * process; delivered messages per second from the first publish to the last delivery. Whichever
 * side is slower sets it, so a paced publisher at half this rate never outruns the consumer.
 */
async function measureEndToEnd(
  subscriber: RedisStreamsSubscriber,
  publisher: RedisStreamsPublisher,
  total: number,
): Promise<number> {
  progress(`transport redis end-to-end maximum: ${total} messages, 64 in flight`);
  const topic = 'endtoend';
  const counter = new Counter(total);
  const handle = await subscriber.subscribe(
    [topic],
    { group: 'endtoend', consumer: 'c1', startFrom: 'latest' },
    async () => {
      counter.hit();
    },
  );
  try {
    const traffic = messages(total);
    const started = process.hrtime.bigint();
    await pool(total, 64, (i) => publisher.publish(topic, [traffic[i]!]));
    await until(() => counter.done, 60_000, 'end-to-end deliveries');
    return total / (Number(process.hrtime.bigint() - started) / 1e9);
  } finally {
    await handle.close();
  }
}

/**
 * Publishes single messages at `rate` per second for `seconds`, timing each to the start of its
 * handler from its intended send and from its actual publish() call (see paced()).
 */
async function measureLatency(
  subscriber: RedisStreamsSubscriber,
  publisher: RedisStreamsPublisher,
  rate: number,
  seconds: number,
  label = '',
) {
  const total = Math.round(rate * seconds);
  const topic = `latency${label}${rate}`;
  progress(`transport redis latency: ${total} messages at ${rate}/s`);
  const samples = new Samples();
  const handle = await subscriber.subscribe(
    [topic],
    { group: 'latency', consumer: 'c1', startFrom: 'latest' },
    async ({ envelope }) => samples.arrived(envelope.messageId),
  );
  try {
    await paced(total, rate, samples, (e) => publisher.publish(topic, [e]));
    await until(() => samples.count >= total, 30_000, 'latency deliveries');
  } finally {
    await handle.close();
  }
  return samples.percentiles();
}

/**
 * The raw client doing the same at the same rate in this process: paced `XADD`s of the same
 * envelopes (as rawWire) to the 8 streams on one connection, a `XREADGROUP COUNT 100 BLOCK`
 * loop over them on another, timed to the parse of each message; XACKs not awaited.
 */
async function measureRawLatency(
  url: string,
  prefix: string,
  rate: number,
  seconds: number,
  label = '',
) {
  const total = Math.round(rate * seconds);
  progress(`transport redis latency, raw client: ${total} messages at ${rate}/s`);
  const writer = new Redis(url, { maxRetriesPerRequest: 1 });
  const reader = new Redis(url, { maxRetriesPerRequest: 1 });
  const streams = Array.from(
    { length: PARTITIONS },
    (_, p) => `${prefix}rawlatency${label}${rate}:${p}`,
  );
  const samples = new Samples();
  let stop = false;
  try {
    for (const stream of streams) await writer.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');
    const reading = (async () => {
      while (!stop) {
        const reply = (await reader.xreadgroup(
          'GROUP',
          'g',
          'c1',
          'COUNT',
          100,
          'BLOCK',
          200,
          'STREAMS',
          ...streams,
          ...streams.map(() => '>'),
        )) as [string, [string, string[]][]][] | null;
        for (const [stream, entries] of reply ?? []) {
          for (const [, fields] of entries) {
            const { messageId } = JSON.parse(fields[3] ?? 'null') as Envelope;
            samples.arrived(messageId);
          }
          void writer.xack(stream, 'g', ...entries.map(([id]) => id));
        }
      }
    })();
    let i = 0;
    await paced(total, rate, samples, (e) =>
      writer
        .xadd(
          streams[i++ % PARTITIONS]!,
          'MAXLEN',
          '~',
          MAXLEN,
          '*',
          'key',
          e.aggregateId,
          'msg',
          rawWire(e),
        )
        .then(() => undefined),
    );
    await until(() => samples.count >= total, 30_000, 'raw latency deliveries');
    stop = true;
    await reading;
  } finally {
    stop = true;
    reader.disconnect();
    writer.disconnect();
  }
  return samples.percentiles();
}

/**
 * Latency samples of a paced run, two per message: from its intended send (when the schedule
 * wanted it sent) and from its actual send (when the send loop got to it).
 */
class Samples {
  private readonly sent = new Map<string, { intended: bigint; actual: bigint }>();
  private readonly fromIntended: number[] = [];
  private readonly fromActual: number[] = [];

  sending(messageId: string, intended: bigint): void {
    this.sent.set(messageId, { intended, actual: process.hrtime.bigint() });
  }

  arrived(messageId: string): void {
    const sent = this.sent.get(messageId);
    if (sent === undefined) return;
    const now = process.hrtime.bigint();
    this.fromIntended.push(Number(now - sent.intended) / 1e6);
    this.fromActual.push(Number(now - sent.actual) / 1e6);
    this.sent.delete(messageId);
  }

  get count(): number {
    return this.fromIntended.length;
  }

  percentiles(): { intended: Percentiles; actual: Percentiles } {
    return { intended: percentiles(this.fromIntended), actual: percentiles(this.fromActual) };
  }
}

/**
 * Sends `total` envelopes at `rate` per second: message i is due at `started + i / rate`; every
 * millisecond the loop sends the ones due. Each message's latency counts from that intended time
 * as well as from its actual send: when the process is busy (a GC pause, a backlog of
 * deliveries) the loop wakes late and sends a burst of overdue messages, and timing those from
 * their actual send would leave the wait out of exactly the samples it hit (coordinated
 * omission). The intended-send figure is the primary one, for both sides alike. Each envelope is
 * made just before its send and forgotten once delivered, so neither side's latency pays for
 * collecting a heap of held messages.
 */
async function paced(
  total: number,
  rate: number,
  samples: Samples,
  send: (e: Envelope) => Promise<void>,
): Promise<void> {
  const started = process.hrtime.bigint();
  let sent = 0;
  const inFlight: Promise<void>[] = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor((elapsedMs(started) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const e = sampleEvent(`trainer-${sent % KEYS}`, sent);
      samples.sending(e.messageId, started + BigInt(Math.round((sent * 1e9) / rate)));
      inFlight.push(send(e));
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
}

export async function transportBench(servers: Servers): Promise<Report> {
  const report = new Report('transport');
  await redisPublish(servers, report);
  await redisConsume(servers, report);
  await kafkaConsume(servers, report);
  return report;
}
