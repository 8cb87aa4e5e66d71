import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import { type ManagedConnection, Router } from '../src';
import {
  type KafkaClient,
  kafkaConnection,
  KafkaPublisher,
  KafkaSubscriber,
  KafkaTopicConfigError,
  type KafkaTransportOptions,
} from '../src/kafka';
import { conformanceMessage, conformanceSerializer } from '../src/testing';

const ns = testNamespace('kafkaconf');

jest.setTimeout(30_000);

/** Settles `promise` or fails after `ms`: these must not hang. */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
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

describe('kafka: settings the single test broker cannot accept', () => {
  let connection: ManagedConnection<KafkaClient>;
  const options: KafkaTransportOptions = {
    serializer: conformanceSerializer(),
    partitions: 1,
    replicationFactor: 3, // the test broker is a single node
  };

  beforeAll(async () => {
    connection = kafkaConnection({ brokers: ns.kafkaBrokers, clientId: ns.name('conf') });
    await connection.open();
  });
  afterAll(async () => {
    await connection.close();
    await removeNamespaceData(ns, ['kafka']);
  });

  const expectReplicationError = (error: unknown, topic: string) => {
    expect(error).toBeInstanceOf(KafkaTopicConfigError);
    expect(error).toMatchObject({ permanent: true, option: 'replicationFactor', topic });
    expect((error as Error).message).toContain('INVALID_REPLICATION_FACTOR');
    expect((error as Error).message).toContain('`replicationFactor`');
    expect((error as Error).message).toContain(JSON.stringify(topic));
  };

  it('replicationFactor 3: subscribe and publish reject at once, naming the error and the option', async () => {
    const topic = ns.topic('replicas');
    const subscriber = new KafkaSubscriber(connection.client, options);
    const publisher = new KafkaPublisher(connection.client, options);
    try {
      const refused = await within(
        5_000,
        subscriber.subscribe([topic], { group: 'g', consumer: 'c' }, async () => undefined),
      ).catch((error: unknown) => error);
      expectReplicationError(refused, topic);
      const notSent = await within(
        5_000,
        publisher.publish(topic, [conformanceMessage(1, 'k')]),
      ).catch((error: unknown) => error);
      expectReplicationError(notSent, topic);
    } finally {
      await subscriber.close();
      await publisher.close();
    }
    const topics = await connection.client.admin.listTopics();
    expect(topics).not.toContain(topic);
  });

  it('replicationFactor 3: the Router reports the permanent error at once and run() fails with it', async () => {
    const topic = ns.topic('router');
    const subscriber = new KafkaSubscriber(connection.client, options);
    const router = new Router({ subscriber, service: 'svc', instanceId: 'i1' });
    const reported: unknown[] = [];
    router.onSubscribeError((_, error) => reported.push(error));
    router.addHandler({ name: 'ledger', topics: [topic], handle: async () => undefined });
    const running = router.run().catch((error: unknown) => error);
    try {
      const deadline = Date.now() + 5_000;
      while (reported.length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(reported.length).toBeGreaterThan(0);
      expectReplicationError(reported[0], topic);
      // run() does not wait for a broker that will never accept the setting.
      expectReplicationError(await within(5_000, running), topic);
    } finally {
      await router.close();
      await subscriber.close();
      await within(10_000, running);
    }
  });
});
