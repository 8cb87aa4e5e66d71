import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, testNamespace } from '@causeway/testkit';
import { type Delivery, type TransportFeatures } from '../src';
import {
  REDIS_STREAMS_FEATURES,
  RedisStreamsPublisher,
  RedisStreamsSubscriber,
  type RedisStreamsLayout,
  type RedisStreamsSubscriberOptions,
  StreamKeys,
  redisConnection,
} from '../src/redis';
import {
  conformanceMessage,
  conformanceSerializer,
  describeTransportConformance,
} from '../src/testing';

/**
 * The conformance suite against a real Redis. It needs a broker it may restart, with
 * persistence (the shared test Redis has none on purpose): this file starts its own
 * redis-server with AOF fsynced on every write, and restartBroker kills it (SIGKILL: only what
 * was fsynced survives) and starts it again on the same port.
 */
class RedisProcess {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(path.join(tmpdir(), 'causeway-redis-streams-'));

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--appendonly', 'yes'];
    args.push('--appendfsync', 'always', '--save', '', '--dir', this.dir, '--logfile', 'redis.log');
    this.child = spawn('redis-server', args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await pong(this.port))) {
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async restart(): Promise<void> {
    await this.stop('SIGKILL');
    await this.start();
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** True when the server answers PING with PONG (not LOADING, not refused). */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

const servers: RedisProcess[] = [];

afterAll(async () => {
  await Promise.all(servers.map((server) => server.remove()));
});

/**
 * The suite on a layout: with the four priority lanes (the default), and with `normal` alone
 * (`priorities: false`), where priority order is not promised but everything else is.
 */
function describeOnLayout(
  name: string,
  features: TransportFeatures,
  layoutOptions: Partial<RedisStreamsLayout>,
): void {
  describeTransportConformance(
    name,
    features,
    async ({ serializer, onPoison, maxMessageBytes }) => {
      const redis = new RedisProcess(await freePort());
      servers.push(redis);
      await redis.start();
      const { keyPrefix } = testNamespace('streams');
      const connection = redisConnection({ url: redis.url, maxReconnectDelayMs: 100 });
      await connection.open();
      const layout = { keyPrefix, partitions: 8, ...layoutOptions };
      const publisher = new RedisStreamsPublisher({
        ...layout,
        client: connection.client,
        serializer,
        maxMessageBytes,
      });
      return {
        publisher,
        subscriber: () =>
          new RedisStreamsSubscriber({
            ...layout,
            client: connection.client,
            serializer,
            onPoison,
            redeliveryDelayMs: 20,
            blockMs: 100,
            heartbeatMs: 100,
            leaseTtlMs: 1_000,
            claimIdleMs: 500,
            consumerIdleMs: 2_000,
          }),
        crash: async (subscriber) => (subscriber as RedisStreamsSubscriber).kill(),
        publishRaw: (topic, key, raw) => publisher.publishRaw(topic, key, raw),
        restartBroker: async () => {
          await redis.restart();
          // The shared client reconnects by itself; wait until it does before publishing again.
          const deadline = Date.now() + 10_000;
          while (
            !(await connection.client.ping().then(
              () => true,
              () => false,
            ))
          ) {
            if (Date.now() > deadline) throw new Error('the client did not reconnect');
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        },
        close: async () => {
          await publisher.close();
          await connection.close();
          await redis.remove();
        },
      };
    },
  );
}

describeOnLayout('redis-streams', REDIS_STREAMS_FEATURES, {});
describeOnLayout(
  'redis-streams, one lane',
  { ...REDIS_STREAMS_FEATURES, priorities: false },
  { priorities: false },
);

// Beyond the conformance suite: partition hand-over while messages flow, dead consumers, and
// back-pressure — on the shared test Redis (no restart needed).
describe('redis-streams partition ownership', () => {
  const ns = testNamespace('streamsown');
  const connection = redisConnection({ url: ns.redisUrl });
  const serializer = conformanceSerializer();
  const layout = { keyPrefix: ns.keyPrefix, partitions: 8 };
  const publisher = new RedisStreamsPublisher({ ...layout, client: connection.client, serializer });
  const subscribers: RedisStreamsSubscriber[] = [];
  let topicCount = 0;
  const topic = () => `own.${topicCount++}`;
  const subscriber = (extra: Partial<RedisStreamsSubscriberOptions> = {}) => {
    const created = new RedisStreamsSubscriber({
      ...layout,
      client: connection.client,
      serializer,
      redeliveryDelayMs: 20,
      blockMs: 100,
      heartbeatMs: 100,
      leaseTtlMs: 1_000,
      claimIdleMs: 500,
      ...extra,
    });
    subscribers.push(created);
    return created;
  };
  const n = (delivery: Delivery) => (delivery.envelope.data as { n: number }).n;
  const until = async (check: () => boolean | Promise<boolean>, what: string) => {
    const deadline = Date.now() + 15_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  beforeAll(() => connection.open());
  afterAll(async () => {
    await Promise.allSettled(subscribers.map((s) => s.close()));
    const stale = await connection.client.keys(`${ns.keyPrefix}*`);
    if (stale.length > 0) await connection.client.del(...stale);
    await connection.close();
  });

  it('keeps per-key order without duplicates while consumers join and leave mid-stream', async () => {
    const t = topic();
    const keys = Array.from({ length: 10 }, (_, i) => `key-${i}`);
    const handled = new Map<string, number[]>(keys.map((k) => [k, []]));
    const running = new Set<string>();
    let overlaps = 0;
    const handler = async (d: Delivery) => {
      if (running.has(d.envelope.aggregateId)) overlaps++;
      running.add(d.envelope.aggregateId);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
      handled.get(d.envelope.aggregateId)!.push(n(d));
      running.delete(d.envelope.aggregateId);
    };
    const first = await subscriber().subscribe(
      [t],
      { group: 'g', consumer: 'first', maxInFlight: 8 },
      handler,
    );
    const total = 400;
    const publishing = (async () => {
      for (let i = 0; i < total; i += 10) {
        const batch = Array.from({ length: 10 }, (_, j) =>
          conformanceMessage(i + j, keys[(i + j) % keys.length]),
        );
        await publisher.publish(t, batch);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await subscriber().subscribe([t], { group: 'g', consumer: 'second', maxInFlight: 8 }, handler);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await subscriber().subscribe([t], { group: 'g', consumer: 'third', maxInFlight: 8 }, handler);
    await first.close();
    await publishing;
    await until(
      () => [...handled.values()].every((list) => list.length >= total / keys.length),
      'all handled',
    );
    for (const [index, key] of keys.entries()) {
      expect(handled.get(key)).toEqual(
        Array.from({ length: total / keys.length }, (_, i) => i * keys.length + index),
      );
    }
    expect(overlaps).toBe(0);
  });

  it("hands a closed consumer's partitions over at once, without waiting for claimIdleMs", async () => {
    const t = topic();
    const received: Delivery[] = [];
    const slow = subscriber({ claimIdleMs: 60_000 });
    const handle = await slow.subscribe(
      [t],
      { group: 'g', consumer: 'leaving', maxInFlight: 1 },
      async (d) => {
        received.push(d);
        await new Promise((resolve) => setTimeout(resolve, 50));
      },
    );
    await publisher.publish(
      t,
      [1, 2, 3, 4, 5].map((i) => conformanceMessage(i, 'one')),
    );
    await until(() => received.length === 1, 'the first delivery');
    await handle.close();
    await subscriber({ claimIdleMs: 60_000 }).subscribe(
      [t],
      { group: 'g', consumer: 'staying' },
      async (d) => void received.push(d),
    );
    await until(() => received.length === 5, 'the rest (well before claimIdleMs)');
    expect(received.map(n)).toEqual([1, 2, 3, 4, 5]);
  });

  it("gives a dead consumer's entries to a live one with the delivery count as attempt, then deletes the idle dead consumer", async () => {
    const t = topic();
    const doomed = subscriber({ consumerIdleMs: 300 });
    let taken = 0;
    await doomed.subscribe([t], { group: 'g', consumer: 'doomed' }, async () => {
      taken++;
      await new Promise(() => undefined);
    });
    await publisher.publish(t, [conformanceMessage(1, 'dead-key')]);
    await until(() => taken === 1, 'the doomed delivery');
    doomed.kill();
    const rescued: Delivery[] = [];
    await subscriber({ consumerIdleMs: 300 }).subscribe(
      [t],
      { group: 'g', consumer: 'heir' },
      async (d) => void rescued.push(d),
    );
    await until(() => rescued.length === 1, 'the rescue');
    expect(rescued[0]!.attempt).toBe(2);
    const stream = new StreamKeys(layout).stream(
      t,
      'normal',
      new StreamKeys(layout).partitionOf('dead-key'),
    );
    const consumers = async () =>
      ((await connection.client.xinfo('CONSUMERS', stream, 'g')) as unknown[][]).map((c) =>
        String(c[1]),
      );
    await until(
      async () => !(await consumers()).includes('doomed'),
      'the dead consumer to be deleted',
    );
    expect(await consumers()).toEqual(['heir']);
  });

  it('survives dropped connections: every message handled, per key in order', async () => {
    const own = new RedisProcess(await freePort());
    await own.start();
    const admin = redisConnection({ url: own.url });
    const client = redisConnection({ url: own.url, maxReconnectDelayMs: 50 });
    try {
      await admin.open();
      await client.open();
      const local = { ...layout, client: client.client, serializer };
      const pub = new RedisStreamsPublisher(local);
      const sub = new RedisStreamsSubscriber({
        ...local,
        redeliveryDelayMs: 20,
        blockMs: 100,
        heartbeatMs: 100,
        leaseTtlMs: 1_000,
        claimIdleMs: 500,
      });
      subscribers.push(sub);
      const keys = ['a', 'b', 'c'];
      const seen = new Map<string, number[]>(keys.map((k) => [k, []]));
      await sub.subscribe([`drop`], { group: 'g', consumer: 'c', maxInFlight: 4 }, async (d) => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        seen.get(d.envelope.aggregateId)!.push(n(d));
      });
      const total = 150;
      let dropped = 0;
      for (let i = 0; i < total; i += 15) {
        const batch = Array.from({ length: 15 }, (_, j) =>
          conformanceMessage(i + j, keys[(i + j) % 3]),
        );
        for (;;) {
          // A publish that fails while the connection is down is simply published again.
          if (
            await pub.publish('drop', batch).then(
              () => true,
              () => false,
            )
          )
            break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        if (i % 45 === 0) {
          dropped += Number(await admin.client.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes'));
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await until(
        () => [...seen.values()].every((list) => new Set(list).size === total / 3),
        'all handled',
      );
      for (const [index, key] of keys.entries()) {
        // At least once: a redelivery may repeat a message, but never reorders a key.
        const firsts = seen.get(key)!.filter((value, i, list) => list.indexOf(value) === i);
        expect(firsts).toEqual(Array.from({ length: total / 3 }, (_, i) => i * 3 + index));
      }
      expect(dropped).toBeGreaterThan(0); // connections were really dropped
      await sub.close();
    } finally {
      await client.close();
      await admin.close();
      await own.remove();
    }
  });

  it('holds no more than prefetch entries per stream and runs no more than maxInFlight (back-pressure)', async () => {
    const t = topic();
    const keys = new StreamKeys(layout);
    const streams = Array.from({ length: 8 }, (_, p) => keys.stream(t, 'normal', p));
    let done = 0;
    let running = 0;
    let maxRunning = 0;
    await subscriber({ prefetch: 4 }).subscribe(
      [t],
      { group: 'g', consumer: 'c', maxInFlight: 2 },
      async () => {
        maxRunning = Math.max(maxRunning, ++running);
        await new Promise((resolve) => setTimeout(resolve, 10));
        running--;
        done++;
      },
    );
    await publisher.publish(
      t,
      Array.from({ length: 60 }, (_, i) => conformanceMessage(i, `bp-${i}`)),
    );
    let maxPending = 0;
    while (done < 60) {
      const summaries = await Promise.all(streams.map((s) => connection.client.xpending(s, 'g')));
      const pending = summaries.reduce<number>(
        (sum, reply) => sum + Number((reply as unknown[])[0]),
        0,
      );
      maxPending = Math.max(maxPending, pending);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Reads stop at `prefetch` held: no stream ever holds more than 4 entries, and 8 streams
    // here have data; handlers run 2 at a time.
    expect(maxPending).toBeLessThanOrEqual(4 * 8);
    expect(maxPending).toBeGreaterThan(2);
    expect(maxRunning).toBe(2);
  });
});
