import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { freePort, RedisServerProcess, testNamespace } from '@causeway/testkit';
import { conformanceMessage, conformanceSerializer } from '../src/testing';
import {
  RedisStreamsPublisher,
  RedisStreamsSubscriber,
  registerRedisStreamsLag,
} from '../src/redis';
import { KafkaPublisher, registerKafkaLag } from '../src/kafka';

const ns = testNamespace('lag');

describe('consumer lag metrics', () => {
  it('reports Redis Streams lag and pending entries per topic and group', async () => {
    const client = new Redis(ns.redisUrl);
    const serializer = conformanceSerializer();
    const registry = new Registry();
    const topic = ns.topic('orders');
    registerRedisStreamsLag({ client, registry, keyPrefix: ns.keyPrefix, topics: () => [topic] });
    const publisher = new RedisStreamsPublisher({ client, serializer, keyPrefix: ns.keyPrefix });
    const subscriber = new RedisStreamsSubscriber({ client, serializer, keyPrefix: ns.keyPrefix });
    let release: () => void = () => undefined;
    const hold = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    await subscriber.subscribe(
      [topic],
      { group: 'billing', consumer: 'c1', maxInFlight: 2 },
      async () => {
        started++;
        await hold;
      },
    );
    await publisher.publish(
      topic,
      Array.from({ length: 10 }, (_, i) => conformanceMessage(i, 'one-key')),
    );
    const deadline = Date.now() + 5_000;
    while (started < 1 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 600));

    const text = await registry.metrics();
    const value = (name: string) =>
      Number(
        new RegExp(
          `${name}\\{topic="${topic.replace(/\./g, '\\.')}",group="billing"\\} (\\d+)`,
        ).exec(text)?.[1] ?? NaN,
      );
    expect(value('causeway_consumer_pending') + value('causeway_consumer_lag')).toBe(10);
    expect(value('causeway_consumer_pending')).toBeGreaterThanOrEqual(1);
    release();
    await subscriber.close();
    const keys = await client.keys(`${ns.keyPrefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  it('reports the groups of two key prefixes registered on one registry', async () => {
    // A review (session 35): the second registration failed the start ("already registered").
    const client = new Redis(ns.redisUrl);
    const serializer = conformanceSerializer();
    const registry = new Registry();
    const prefixes = [`${ns.keyPrefix}a:`, `${ns.keyPrefix}b:`];
    const topic = ns.topic('two-prefixes');
    const subscribers: RedisStreamsSubscriber[] = [];
    try {
      for (const keyPrefix of prefixes) {
        registerRedisStreamsLag({ client, registry, keyPrefix, topics: () => [topic] });
        const subscriber = new RedisStreamsSubscriber({ client, serializer, keyPrefix });
        subscribers.push(subscriber);
        const handle = await subscriber.subscribe(
          [topic],
          { group: keyPrefix.endsWith('a:') ? 'alpha' : 'beta', consumer: 'c1' },
          async () => undefined,
        );
        await handle.close();
        await new RedisStreamsPublisher({ client, serializer, keyPrefix }).publish(topic, [
          conformanceMessage(1, 'k'),
          conformanceMessage(2, 'k'),
        ]);
      }
      const text = await registry.metrics();
      for (const group of ['alpha', 'beta'])
        for (const name of ['causeway_consumer_lag', 'causeway_consumer_pending'])
          expect(text).toMatch(new RegExp(`${name}\\{topic="[^"]+",group="${group}"\\} \\d+`));
      expect(text).toMatch(/causeway_consumer_lag\{topic="[^"]+",group="alpha"\} 2/);
    } finally {
      // Its blocking reads run on connections of their own: closed with it, or jest never exits.
      for (const subscriber of subscribers) await subscriber.close();
      const keys = await client.keys(`${ns.keyPrefix}*`);
      if (keys.length > 0) await client.del(...keys);
      client.disconnect();
    }
  });

  it('queries Redis once per topic per scrape, not once per gauge', async () => {
    const client = new Redis(ns.redisUrl);
    const registry = new Registry();
    const topics = [ns.topic('scrape-a'), ns.topic('scrape-b')];
    registerRedisStreamsLag({ client, registry, keyPrefix: ns.keyPrefix, topics: () => topics });
    // Counts the pipelined round trips the real client sends; prom-client collects the three
    // gauges (pending, trimmed unread, lag) concurrently.
    const pipeline = client.pipeline.bind(client);
    let roundTrips = 0;
    client.pipeline = ((...args: Parameters<typeof pipeline>) => {
      roundTrips++;
      return pipeline(...args);
    }) as typeof client.pipeline;
    await registry.metrics();
    client.disconnect();
    expect(roundTrips).toBe(topics.length);
  });

  it('counts each stream once when one layout is registered twice, and sums two prefixes', async () => {
    // A review (session 37): a Nest module initialised twice registers the same streams again
    // (a second query per scrape); two prefixes with one topic and group overwrote each other.
    const client = new Redis(ns.redisUrl);
    const other = new Redis(ns.redisUrl); // the second registration's own client, same server
    const serializer = conformanceSerializer();
    const registry = new Registry();
    const topic = ns.topic('twice');
    const prefixes = [`${ns.keyPrefix}x:`, `${ns.keyPrefix}y:`];
    const subscribers: RedisStreamsSubscriber[] = [];
    try {
      for (const [i, keyPrefix] of prefixes.entries()) {
        const subscriber = new RedisStreamsSubscriber({ client, serializer, keyPrefix });
        subscribers.push(subscriber);
        const handle = await subscriber.subscribe(
          [topic],
          { group: 'billing', consumer: 'c1' },
          async () => undefined,
        );
        await handle.close();
        // 2 unread entries under the first prefix, 3 under the second.
        await new RedisStreamsPublisher({ client, serializer, keyPrefix }).publish(
          topic,
          Array.from({ length: 2 + i }, (_, n) => conformanceMessage(n, `k${n}`)),
        );
      }
      registerRedisStreamsLag({ client, registry, keyPrefix: prefixes[0], topics: () => [topic] });
      registerRedisStreamsLag({
        client: other,
        registry,
        keyPrefix: prefixes[0],
        topics: () => [topic],
      });
      registerRedisStreamsLag({ client, registry, keyPrefix: prefixes[1], topics: () => [topic] });
      let roundTrips = 0;
      for (const counted of [client, other]) {
        const pipeline = counted.pipeline.bind(counted);
        counted.pipeline = ((...args: Parameters<typeof pipeline>) => {
          roundTrips++;
          return pipeline(...args);
        }) as typeof counted.pipeline;
      }
      const text = await registry.metrics();
      expect(text).toContain(`causeway_consumer_lag{topic="${topic}",group="billing"} 5`);
      expect(roundTrips).toBe(2); // one per prefix, not one per registration
    } finally {
      for (const subscriber of subscribers) await subscriber.close();
      const keys = await client.keys(`${ns.keyPrefix}*`);
      if (keys.length > 0) await client.del(...keys);
      client.disconnect();
      other.disconnect();
    }
  });

  it('keeps the last Redis Streams figures while Redis does not answer, rather than no series', async () => {
    const server = new RedisServerProcess(await freePort());
    await server.start();
    const client = new Redis(server.url, { commandTimeout: 300 });
    const serializer = conformanceSerializer();
    const registry = new Registry();
    const topic = ns.topic('hung');
    registerRedisStreamsLag({ client, registry, keyPrefix: ns.keyPrefix, topics: () => [topic] });
    const subscriber = new RedisStreamsSubscriber({ client, serializer, keyPrefix: ns.keyPrefix });
    try {
      // A group that has read nothing: every message published is lag.
      await subscriber.subscribe([topic], { group: 'billing', consumer: 'c1' }, async () => {
        throw new Error('never delivered: the subscription is closed first');
      });
      await subscriber.close();
      const publisher = new RedisStreamsPublisher({ client, serializer, keyPrefix: ns.keyPrefix });
      await publisher.publish(
        topic,
        Array.from({ length: 6 }, (_, i) => conformanceMessage(i, `k${i}`)),
      );
      const lag = async () =>
        new RegExp(
          `causeway_consumer_lag\\{topic="${topic.replace(/\./g, '\\.')}",group="billing"\\} (\\d+)`,
        ).exec(await registry.metrics())?.[1];
      expect(await lag()).toBe('6');
      server.pause();
      await new Promise((resolve) => setTimeout(resolve, 600)); // past the figures' 500 ms reuse
      expect(await lag()).toBe('6');
    } finally {
      server.resume();
      client.disconnect();
      await server.remove();
    }
  });

  it('reports Kafka lag per topic and group', async () => {
    const kafka = new Kafka({
      clientId: ns.name('lag'),
      brokers: ns.kafkaBrokers,
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    const topic = ns.topic('payments');
    const publisher = new KafkaPublisher({ kafka, admin }, { serializer: conformanceSerializer() });
    await publisher.publish(
      topic,
      Array.from({ length: 7 }, (_, i) => conformanceMessage(i, `k${i}`)),
    );
    const registry = new Registry();
    registerKafkaLag({
      admin,
      registry,
      groups: () => [{ group: ns.name('never-consumed'), topics: [topic] }],
    });
    expect(await registry.getSingleMetricAsString('causeway_consumer_lag')).toContain(
      `causeway_consumer_lag{topic="${topic}",group="${ns.name('never-consumed')}"} 7`,
    );
    await publisher.close();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('takes Redis Streams and Kafka groups in one registry, each series kept', async () => {
    const client = new Redis(ns.redisUrl);
    const serializer = conformanceSerializer();
    const redisTopic = ns.topic('both-redis');
    const subscriber = new RedisStreamsSubscriber({ client, serializer, keyPrefix: ns.keyPrefix });
    // The group starts at the end; what comes after it closed waits for it.
    const handle = await subscriber.subscribe(
      [redisTopic],
      { group: 'billing', consumer: 'c1' },
      async () => undefined,
    );
    await handle.close();
    await new RedisStreamsPublisher({ client, serializer, keyPrefix: ns.keyPrefix }).publish(
      redisTopic,
      [0, 1, 2].map((i) => conformanceMessage(i, `k${i}`)),
    );
    const kafka = new Kafka({
      clientId: ns.name('both'),
      brokers: ns.kafkaBrokers,
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    const kafkaTopic = ns.topic('both-kafka');
    const publisher = new KafkaPublisher({ kafka, admin }, { serializer });
    try {
      await publisher.publish(
        kafkaTopic,
        [0, 1].map((i) => conformanceMessage(i, `k${i}`)),
      );
      const registry = new Registry();
      registerRedisStreamsLag({
        client,
        registry,
        keyPrefix: ns.keyPrefix,
        topics: () => [redisTopic],
      });
      const group = ns.name('never-consumed');
      registerKafkaLag({ admin, registry, groups: () => [{ group, topics: [kafkaTopic] }] });
      const text = await registry.getSingleMetricAsString('causeway_consumer_lag');
      expect(text).toContain(`causeway_consumer_lag{topic="${redisTopic}",group="billing"} 3`);
      expect(text).toContain(`causeway_consumer_lag{topic="${kafkaTopic}",group="${group}"} 2`);
    } finally {
      await publisher.close();
      await admin.deleteTopics({ topics: [kafkaTopic] }).catch(() => undefined);
      await admin.disconnect();
      await subscriber.close();
      const keys = await client.keys(`${ns.keyPrefix}*`);
      if (keys.length > 0) await client.del(...keys);
      client.disconnect();
    }
  });

  describe('Kafka away: the scrape answers at once, with every other series', () => {
    /** Longest the scrape may take: the gauge's 300 ms and a loaded machine's margin. */
    const boundMs = 3_000;
    const scrape = async (brokers: string[]) => {
      const registry = new Registry();
      new Counter({ name: 'app_requests_total', help: 'requests', registers: [registry] }).inc();
      const admin = new Kafka({
        clientId: ns.name('away'),
        brokers,
        logLevel: logLevel.NOTHING,
        // Past the bound, so that a scrape waiting for the broker fails the test; hardly more,
        // because admin.disconnect() waits for the request in flight (kafkajs's default of 30 s
        // made the silent broker's case take 30 s).
        connectionTimeout: boundMs + 500,
        requestTimeout: boundMs + 500,
        retry: { retries: 0 },
      }).admin();
      registerKafkaLag({
        admin,
        registry,
        groups: () => [{ group: 'g', topics: ['t'] }],
        timeoutMs: 300,
      });
      const started = Date.now();
      const text = await registry.metrics();
      return { text, ms: Date.now() - started, admin };
    };

    it('refusing connections', async () => {
      const { text, admin } = await scrape([`127.0.0.1:${await freePort()}`]);
      expect(text).toContain('app_requests_total 1');
      await admin.disconnect();
    });

    it('taking connections and never answering', async () => {
      const sockets: Socket[] = [];
      const silent = createServer((socket) => {
        sockets.push(socket);
        socket.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const port = (silent.address() as AddressInfo).port;
        const { text, ms, admin } = await scrape([`127.0.0.1:${port}`]);
        expect(text).toContain('app_requests_total 1');
        expect(ms).toBeLessThan(boundMs);
        await admin.disconnect();
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });
  });
});
