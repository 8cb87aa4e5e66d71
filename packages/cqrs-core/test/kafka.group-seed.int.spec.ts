import { type Admin } from 'kafkajs';
import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import { type Delivery, type ManagedConnection, type SubscriptionHandle } from '../src';
import {
  type KafkaClient,
  kafkaConnection,
  kafkaGroupId,
  KafkaPublisher,
  KafkaSubscriber,
  type KafkaSubscriberOptions,
} from '../src/kafka';
import { conformanceMessage, conformanceSerializer } from '../src/testing';

const ns = testNamespace('kafkaseed');

jest.setTimeout(60_000);

async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const n = (delivery: Delivery) => (delivery.envelope.data as { n: number }).n;
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** True once the group has committed every topic up to its end (nothing left to deliver). */
async function caughtUp(admin: Admin, groupId: string, topics: string[]): Promise<boolean> {
  const committed = await admin.fetchOffsets({ groupId, topics });
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const mine = committed.find((entry) => entry.topic === topic)?.partitions ?? [];
    for (const { partition, high } of ends) {
      const offset = mine.find((entry) => entry.partition === partition)?.offset ?? '-1';
      if (high !== '0' && offset !== high) return false;
    }
  }
  return true;
}

describe('kafka: a handler whose event types change keeps its progress', () => {
  const connections: ManagedConnection<KafkaClient>[] = [];
  const errors: Error[] = [];
  const options: KafkaSubscriberOptions = {
    serializer: conformanceSerializer(),
    partitions: 3,
    groupIdPrefix: `${ns.id}.`,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 300,
    rebalanceTimeoutMs: 10_000,
    maxWaitTimeMs: 100,
    onError: (error) => errors.push(error),
  };
  let client: KafkaClient;
  let publisher: KafkaPublisher;
  let subscriber: KafkaSubscriber;

  /** Subscribes `ledger` to `topics`, collecting the `n` of every delivery. */
  async function ledger(topics: string[]): Promise<{ handle: SubscriptionHandle; got: number[] }> {
    const got: number[] = [];
    const handle = await subscriber.subscribe(
      topics,
      { group: 'ledger', consumer: 'c', startFrom: 'earliest' },
      async (delivery) => {
        got.push(n(delivery));
      },
    );
    return { handle, got };
  }

  const publish = (topic: string, numbers: number[]) =>
    publisher.publish(
      topic,
      numbers.map((i) => conformanceMessage(i, `account-${i % 7}`)),
    );

  beforeAll(async () => {
    const connection = kafkaConnection({ brokers: ns.kafkaBrokers, clientId: ns.name('seed') });
    await connection.open();
    connections.push(connection);
    client = connection.client;
    publisher = new KafkaPublisher(client, options);
    subscriber = new KafkaSubscriber(client, options);
  });

  afterAll(async () => {
    await subscriber?.close();
    await publisher?.close();
    const { groups } = await client.admin.listGroups();
    const mine = groups.map(({ groupId }) => groupId).filter((id) => id.startsWith(`${ns.id}.`));
    if (mine.length > 0) await client.admin.deleteGroups(mine).catch(() => undefined);
    for (const connection of connections) await connection.close();
    await removeNamespaceData(ns, ['kafka']);
  });

  /**
   * Version 1 of `ledger` handles [old] and has consumed 1..20 of it; `added` already has
   * 101..105, nobody handled them yet. Returns version 1's Kafka group.
   */
  async function versionOne(old: string, added: string): Promise<string> {
    await publish(old, range(1, 20));
    await publish(added, range(101, 105));
    const v1 = await ledger([old]);
    const group = kafkaGroupId('ledger', [old], `${ns.id}.`);
    await eventually(() => v1.got.length >= 20, '20 deposits');
    await eventually(() => caughtUp(client.admin, group, [old]), 'version 1 to commit');
    await v1.handle.close();
    return group;
  }

  it('a new topic set reads the old topics from where the handler was, the added one from the start', async () => {
    const [deposited, withdrawn] = [ns.topic('Deposited'), ns.topic('Withdrawn')];
    await versionOne(deposited, withdrawn);
    await publish(deposited, range(21, 23));
    // Version 2 of `ledger` handles Deposited and Withdrawn: a new Kafka group.
    const v2 = await ledger([deposited, withdrawn]);
    const v2Group = kafkaGroupId('ledger', [deposited, withdrawn], `${ns.id}.`);
    await eventually(
      () => caughtUp(client.admin, v2Group, [deposited, withdrawn]),
      'version 2 to consume everything',
    );
    // None of the 20 deposits version 1 handled; the 3 new ones; every withdrawal (startFrom).
    expect([...v2.got].sort((a, b) => a - b)).toEqual([21, 22, 23, ...range(101, 105)]);
    expect(errors).toEqual([]);
  });

  it('a group with committed offsets of its own is not seeded again: a restart redelivers nothing', async () => {
    const [deposited, withdrawn] = [ns.topic('Deposited2'), ns.topic('Withdrawn2')];
    await versionOne(deposited, withdrawn);
    await publish(deposited, range(21, 23));
    const v2 = await ledger([deposited, withdrawn]);
    const v2Group = kafkaGroupId('ledger', [deposited, withdrawn], `${ns.id}.`);
    await eventually(() => caughtUp(client.admin, v2Group, [deposited, withdrawn]), 'version 2');
    expect([...v2.got].sort((a, b) => a - b)).toEqual([21, 22, 23, ...range(101, 105)]);
    await v2.handle.close();
    // Version 2 is past version 1 now (21..23): seeding it again would deliver those again.

    const again = await ledger([deposited, withdrawn]);
    await publish(deposited, [24]);
    await eventually(() => again.got.includes(24), 'the message published after the restart');
    await eventually(() => caughtUp(client.admin, v2Group, [deposited, withdrawn]), 'the restart');
    expect(again.got).toEqual([24]);
    expect(errors).toEqual([]);
  });
});
