import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type logCreator } from 'kafkajs';
import { testNamespace } from '@causeway/testkit';
import {
  type Delivery,
  InvalidTopicError,
  type ManagedConnection,
  MessageTooLargeError,
} from '../src';
import {
  KAFKA_FEATURES,
  type KafkaClient,
  kafkaConnection,
  KafkaPublisher,
  KafkaSubscriber,
  type KafkaSubscriberOptions,
} from '../src/kafka';
import {
  conformanceMessage,
  conformanceSerializer,
  describeTransportConformance,
} from '../src/testing';
import { findLocalKafka } from './kafka.local-broker';

const exec = promisify(execFile);
const ns = testNamespace('kafka');

/**
 * Restarts the broker of the local launcher (infra/local): same ports, same data directory.
 * KAFKA_BROKERS must point at it. The broker's own settings say which checkout started it and
 * on which ports (findLocalKafka): this checkout may be another one (a git worktree has no
 * `.infra`), and the CAUSEWAY_KAFKA_* of this shell may not be the broker's: with only
 * `.infra/env` loaded, `up` would otherwise start it on the default ports, which another
 * checkout's broker may hold, and leave it down.
 */
async function restartLocalKafka(): Promise<void> {
  const { root, port, controllerPort } = await findLocalKafka(ns.kafkaBrokers);
  const infra = path.join(root, 'infra', 'local');
  const env = {
    ...process.env,
    CAUSEWAY_KAFKA_PORT: port,
    CAUSEWAY_KAFKA_CONTROLLER_PORT: controllerPort,
  };
  mark('restart: down');
  await exec(path.join(infra, 'down'), ['kafka'], { timeout: 60_000, env });
  mark('restart: up');
  await exec(path.join(infra, 'up'), ['kafka'], { timeout: 120_000, env });
  // `up` returns once the broker answers listTopics; partitions get their leader a moment later
  // (longer with many topics on a loaded machine). Producing before that fails with "not the
  // leader", and creating topics with "does not host this topic-partition".
  await waitForLeaders(60_000);
  mark('restart: ready');
}

async function waitForLeaders(timeoutMs: number): Promise<void> {
  const admin = new Kafka({
    clientId: ns.name('leaders'),
    brokers: ns.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const { topics } = await admin.fetchTopicMetadata();
        if (topics.every((topic) => topic.partitions.every((partition) => partition.leader >= 0)))
          return;
      } catch {
        // metadata not served yet
      }
      if (Date.now() > deadline)
        throw new Error(`partitions still without a leader after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

/** KAFKAJS_DEBUG=<file> appends kafkajs's own log there (diagnosing a failure). */
const debugLog: logCreator = () => (entry) =>
  appendFileSync(
    process.env.KAFKAJS_DEBUG!,
    `${new Date().toISOString()} ${entry.label} ${entry.namespace} ${JSON.stringify(entry.log)}\n`,
  );

/** Marks a test step in the KAFKAJS_DEBUG log. */
const mark = (what: string) =>
  process.env.KAFKAJS_DEBUG &&
  appendFileSync(process.env.KAFKAJS_DEBUG, `${new Date().toISOString()} MARK ${what}\n`);

/** Kafka clients of one test file; each subscriber gets its own consumers (own connections). */
function kafkaClients() {
  const connections: ManagedConnection<KafkaClient>[] = [];
  return {
    async connect(name: string): Promise<KafkaClient> {
      const connection = kafkaConnection({
        brokers: ns.kafkaBrokers,
        clientId: ns.name(name),
        config: process.env.KAFKAJS_DEBUG ? { logLevel: logLevel.INFO, logCreator: debugLog } : {},
      });
      await connection.open();
      connections.push(connection);
      return connection.client;
    },
    async close(): Promise<void> {
      for (const connection of connections) await connection.close();
    },
  };
}

/** Short timeouts so that rebalances take milliseconds, not seconds. */
const FAST: Omit<KafkaSubscriberOptions, 'serializer'> = {
  // 3 partitions: the conformance keys k1, k2, k3 land on three different ones (murmur2).
  partitions: 3,
  redeliveryDelayMs: 20,
  // Group names ('g', 'workers', …) repeat across runs that share the broker.
  groupIdPrefix: `${ns.id}.`,
  sessionTimeoutMs: 6_000, // the broker's group.min.session.timeout.ms
  heartbeatIntervalMs: 300,
  rebalanceTimeoutMs: 10_000,
  maxWaitTimeMs: 100,
};

describeTransportConformance(
  'kafka',
  { ...KAFKA_FEATURES, timeoutMs: 20_000 },
  async ({ serializer, onPoison, maxMessageBytes }) => {
    const clients = kafkaClients();
    const options: KafkaSubscriberOptions = { ...FAST, serializer, onPoison, maxMessageBytes };
    const publisher = new KafkaPublisher(await clients.connect('publisher'), options);
    const subscriberClient = await clients.connect('subscribers');
    return {
      publisher,
      closablePublisher: async () => new KafkaPublisher(await clients.connect('closable'), options),
      subscriber: (extra) => new KafkaSubscriber(subscriberClient, { ...options, ...extra }),
      crash: (subscriber) => (subscriber as KafkaSubscriber).kill(),
      publishRaw: (topic, key, raw) => publisher.publishRaw(topic, key, raw),
      restartBroker: restartLocalKafka,
      close: async () => {
        await publisher.close();
        await clients.close();
      },
    };
  },
);

async function eventually(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const n = (delivery: Delivery) => (delivery.envelope.data as { n: number }).n;

describe('kafka transport specifics', () => {
  const clients = kafkaClients();
  const options: KafkaSubscriberOptions = {
    ...FAST,
    serializer: conformanceSerializer(),
    maxMessageBytes: 1_100_000,
  };
  let publisher: KafkaPublisher;
  let client: KafkaClient;
  const subscribers: KafkaSubscriber[] = [];
  const subscriber = () => {
    const created = new KafkaSubscriber(client, options);
    subscribers.push(created);
    return created;
  };

  beforeAll(async () => {
    publisher = new KafkaPublisher(await clients.connect('publisher'), options);
    client = await clients.connect('subscribers');
  });
  afterEach(async () => {
    await Promise.all(subscribers.splice(0).map((created) => created.close()));
  });
  afterAll(async () => {
    await publisher.close();
    await clients.close();
  });

  it('carries a message above the broker default limit (~1 MB) up to maxMessageBytes', async () => {
    const topic = ns.topic('large');
    const received: number[] = [];
    await subscriber().subscribe([topic], { group: 'g', consumer: 'c' }, async (d) => {
      received.push(n(d));
    });
    // Over the broker's message.max.bytes (1 048 588), under maxMessageBytes (1 100 000).
    await publisher.publish(topic, [conformanceMessage(1, 'k', 'normal', 'z'.repeat(1_060_000))]);
    const tooLarge = conformanceMessage(2, 'k', 'normal', 'z'.repeat(1_100_001));
    await expect(publisher.publish(topic, [tooLarge])).rejects.toBeInstanceOf(MessageTooLargeError);
    await eventually(() => received.length === 1, 'the large message');
    expect(received).toEqual([1]);
  });

  it('refuses a topic name Kafka can never accept, naming it, before contacting the broker', async () => {
    // e.g. a message type or an instance id (`replies.<instanceId>`) with '/' (one with ':' or
    // white space is refused on every transport, by checkTopic: the conformance suite).
    const bad = ns.topic('replies.pod/7');
    const message = conformanceMessage(1, 'k', 'normal');
    await expect(publisher.publish(bad, [message])).rejects.toBeInstanceOf(InvalidTopicError);
    const refused = await subscriber()
      .subscribe([bad], { group: 'g', consumer: 'c' }, async () => undefined)
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(refused).toBeInstanceOf(InvalidTopicError);
    expect((refused as Error).message).toContain(JSON.stringify(bad));
    expect((refused as Error).message).toContain("only ASCII letters, digits, '.', '_' and '-'");
    const { topics } = await client.admin.fetchTopicMetadata();
    expect(topics.map((t) => t.name)).not.toContain(bad);
  });

  it('sends a batch larger than one message in consecutive sends, in order', async () => {
    const topic = ns.topic('chunks');
    const received: number[] = [];
    await subscriber().subscribe([topic], { group: 'g', consumer: 'c' }, async (d) => {
      received.push(n(d));
    });
    const blob = 'c'.repeat(400_000);
    await publisher.publish(
      topic,
      [1, 2, 3, 4, 5].map((i) => conformanceMessage(i, 'one-key', 'normal', blob)),
    );
    await eventually(() => received.length === 5, '5 deliveries');
    expect(received).toEqual([1, 2, 3, 4, 5]);
  });

  it('keeps per-key order for concurrent publishes (sends are serialised)', async () => {
    const topic = ns.topic('concurrent');
    const received = new Map<string, number[]>();
    await subscriber().subscribe([topic], { group: 'g', consumer: 'c' }, async (d) => {
      const list = received.get(d.envelope.aggregateId) ?? [];
      list.push(n(d));
      received.set(d.envelope.aggregateId, list);
    });
    const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
    await Promise.all(
      keys.flatMap((key) =>
        [0, 1, 2].map((round) =>
          publisher.publish(
            topic,
            Array.from({ length: 5 }, (_, i) => conformanceMessage(round * 5 + i, key)),
          ),
        ),
      ),
    );
    const total = () => [...received.values()].reduce((sum, list) => sum + list.length, 0);
    await eventually(() => total() === 12 * 15, 'every message');
    // Publishes of one key were concurrent: each call's five messages stay together, in order.
    for (const key of keys) {
      const list = received.get(key)!;
      expect([...list].sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i));
      for (let i = 0; i < list.length; i += 5) {
        const start = list[i]!;
        expect(list.slice(i, i + 5)).toEqual([0, 1, 2, 3, 4].map((j) => start + j));
      }
    }
  });

  it('lets other partitions flow while one redelivers a failing message', async () => {
    const topic = ns.topic('blocked');
    let failing = true;
    const attempts: [number, number][] = [];
    const flowing: number[] = [];
    await subscriber().subscribe([topic], { group: 'g', consumer: 'c' }, async (d) => {
      if (d.envelope.aggregateId === 'k1') {
        attempts.push([n(d), d.attempt]);
        if (failing) throw new Error('not yet');
      } else flowing.push(n(d));
    });
    // k1 and k2 are on different partitions of 3.
    await publisher.publish(topic, [conformanceMessage(0, 'k1'), conformanceMessage(1, 'k1')]);
    await eventually(() => attempts.length >= 2, 'k1 to be redelivered');
    await publisher.publish(
      topic,
      [1, 2, 3, 4, 5].map((i) => conformanceMessage(i, 'k2')),
    );
    await eventually(() => flowing.length === 5, 'k2 to flow past the failing k1');
    failing = false;
    await eventually(() => attempts.some(([message]) => message === 1), 'k1 to succeed');
    // Message 0 again and again with growing attempts, then message 1 once: order held.
    expect(attempts).toEqual([...attempts.slice(0, -1).map((_, i) => [0, i + 1]), [1, 1]]);
    expect(flowing).toEqual([1, 2, 3, 4, 5]);
  });

  it('keeps a handler running longer than the session timeout in the group (heartbeats)', async () => {
    const topic = ns.topic('slow');
    const deliveries: Delivery[] = [];
    await subscriber().subscribe([topic], { group: 'g', consumer: 'c' }, async (d) => {
      deliveries.push(d);
      if (n(d) === 1) await sleep(FAST.sessionTimeoutMs! + 1_500);
    });
    await publisher.publish(topic, [conformanceMessage(1), conformanceMessage(2)]);
    await eventually(() => deliveries.length === 2, 'both messages', 30_000);
    await sleep(1_000);
    expect(deliveries.map((d) => [n(d), d.attempt])).toEqual([
      [1, 1],
      [2, 1],
    ]);
  });

  it('hands partitions over when a member joins during a long handler, without duplicates', async () => {
    const topic = ns.topic('handover');
    const handled: [string, Delivery][] = [];
    const running = new Set<string>();
    let overlaps = 0;
    const handler = (name: string) => async (d: Delivery) => {
      if (running.has(d.envelope.aggregateId)) overlaps++;
      running.add(d.envelope.aggregateId);
      handled.push([name, d]);
      if (n(d) === 0) await sleep(2_500);
      running.delete(d.envelope.aggregateId);
    };
    await subscriber().subscribe([topic], { group: 'g', consumer: 'a' }, handler('a'));
    await publisher.publish(topic, [conformanceMessage(0, 'k1')]);
    await eventually(() => handled.length === 1, 'a to start the long handler');
    // The join completes once 'a' has finished (and committed) the message in hand.
    await subscriber().subscribe([topic], { group: 'g', consumer: 'b' }, handler('b'));
    const keys = ['k1', 'k2', 'k3', 'a', 'b', 'c'];
    await publisher.publish(
      topic,
      Array.from({ length: 30 }, (_, i) => conformanceMessage(i + 1, keys[i % keys.length])),
    );
    await eventually(() => handled.length >= 31, 'all 31 deliveries');
    await sleep(500);
    expect(handled.map(([, d]) => n(d)).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 31 }, (_, i) => i),
    );
    expect(new Set(handled.map(([name]) => name))).toEqual(new Set(['a', 'b']));
    for (const key of keys) {
      const order = handled.filter(([, d]) => d.envelope.aggregateId === key).map(([, d]) => n(d));
      expect(order).toEqual([...order].sort((x, y) => x - y));
    }
    expect(handled.every(([, d]) => d.attempt === 1)).toBe(true);
    expect(overlaps).toBe(0);
  });

  it('counts attempts across a crash in the middle of a batch', async () => {
    const topic = ns.topic('midbatch');
    const doomed = subscriber();
    const taken: number[] = [];
    await doomed.subscribe([topic], { group: 'g', consumer: 'doomed' }, async (d) => {
      taken.push(n(d));
      if (n(d) === 2) await new Promise(() => undefined); // dies while handling 2
    });
    await publisher.publish(
      topic,
      [1, 2, 3].map((i) => conformanceMessage(i, 'k')),
    );
    await eventually(() => taken.length === 2, 'the doomed consumer to take 1 and 2');
    await doomed.kill();
    const rescued: Delivery[] = [];
    await subscriber().subscribe([topic], { group: 'g', consumer: 'survivor' }, async (d) => {
      rescued.push(d);
    });
    await eventually(() => rescued.length === 2, 'the survivor to get 2 and 3');
    expect(rescued.map((d) => [n(d), d.attempt])).toEqual([
      [2, 2],
      [3, 1],
    ]);
  });
});
