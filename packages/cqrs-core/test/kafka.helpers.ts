import { type Admin, CompressionTypes, type Kafka } from 'kafkajs';
import { removeNamespaceData, type TestNamespace } from '@causeway/testkit';
import { type Envelope, type ManagedConnection } from '../src';
import { type KafkaClient, kafkaConnection, type KafkaConnectionOptions } from '../src/kafka';
import { conformanceSerializer } from '../src/testing';
import { encodeForWire } from '../src/transport/wire.codec';

/** Resolves once `check` holds; fails naming `what` after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Settles `promise` or fails after `ms`: these must not hang. */
export async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Deletes the namespace's groups (ids starting `<ns.id>.`) and topics. */
export async function removeKafkaNamespace(admin: Admin, ns: TestNamespace): Promise<void> {
  const { groups } = await admin.listGroups();
  const mine = groups.map(({ groupId }) => groupId).filter((id) => id.includes(ns.id));
  if (mine.length > 0) await admin.deleteGroups(mine).catch(() => undefined);
  await removeNamespaceData(ns, ['kafka']);
}

/**
 * The describe block's Kafka connection: opened in a beforeAll, and in an afterAll the
 * namespace's groups and topics are removed and it is closed. Call it at the top of the block;
 * `connection()` answers the open connection inside tests and hooks declared after it.
 * `options`: further kafkaConnection options (timeouts, kafkajs `config`).
 */
export function useKafkaConnection(
  ns: TestNamespace,
  clientId: string,
  options: Omit<KafkaConnectionOptions, 'brokers' | 'clientId'> = {},
): () => ManagedConnection<KafkaClient> {
  let connection: ManagedConnection<KafkaClient> | undefined;
  beforeAll(async () => {
    connection = kafkaConnection({
      ...options,
      brokers: ns.kafkaBrokers,
      clientId: ns.name(clientId),
    });
    await connection.open();
  });
  afterAll(async () => {
    if (!connection) return;
    await removeKafkaNamespace(connection.client.admin, ns);
    await connection.close();
  });
  return () => {
    if (!connection) throw new Error('useKafkaConnection: the connection is not open yet');
    return connection;
  };
}

/** Sets one topic config entry (as an operator would, outside Causeway). */
export async function setTopicConfig(
  admin: Admin,
  topic: string,
  name: string,
  value: string,
): Promise<void> {
  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: 2 /* TOPIC */, name: topic, configEntries: [{ name, value }] }],
  });
  // The controller answers once the change is committed; the broker applies it when it
  // replays the metadata log, later — on a broker just started, after a publish that follows
  // at once (seen in fresh-clone CI). Wait until the broker reports it, then a moment more: its
  // metadata cache is updated just before its topic configs, in the same metadata pass.
  await eventually(
    async () => (await topicConfig(admin, topic, name)).value === value,
    `the broker to apply ${name}=${value} on ${topic}`,
    10_000,
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
}

/** One topic config entry as the broker reports it; `explicit`: set on the topic, not inherited. */
export async function topicConfig(
  admin: Admin,
  topic: string,
  name: string,
): Promise<{ value: string; explicit: boolean }> {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: 2, name: topic, configNames: [name] }],
  });
  const entry = resources[0]?.configEntries.find((candidate) => candidate.configName === name);
  // configSource 1 = TOPIC_CONFIG (DescribeConfigs v1+)
  return { value: entry?.configValue ?? '', explicit: entry?.configSource === 1 };
}

/**
 * Subscriber options of these tests: the conformance serializer, `partitions` per topic, groups
 * of the namespace, and timings that make joins, rebalances and idle fetches quick.
 */
export function quickConsumer(ns: TestNamespace, partitions: number) {
  return {
    serializer: conformanceSerializer(),
    partitions,
    groupIdPrefix: `${ns.id}.`,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 300,
    rebalanceTimeoutMs: 10_000,
    maxWaitTimeMs: 100,
  };
}

/**
 * Publishes `messages` as one gzip record batch, in the wire form our subscriber reads (as
 * another client would send them): the crash tests swap this process's gzip codec to make the
 * batch undecodable.
 */
export async function publishGzipped(
  kafka: Kafka,
  topic: string,
  messages: readonly Envelope[],
): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    const serializer = conformanceSerializer();
    await producer.send({
      topic,
      compression: CompressionTypes.GZIP,
      messages: messages.map((envelope) => ({
        key: envelope.aggregateId,
        value: encodeForWire(serializer, envelope),
      })),
    });
  } finally {
    await producer.disconnect();
  }
}
