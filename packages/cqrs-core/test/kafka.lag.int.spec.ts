import { testNamespace } from '@causeway/testkit';
import { Registry } from 'prom-client';
import { type Delivery, type ManagedConnection } from '../src';
import {
  type KafkaClient,
  kafkaConnection,
  kafkaGroupId,
  kafkaLag,
  KafkaPublisher,
  KafkaSubscriber,
  type KafkaSubscriberOptions,
  registerKafkaLag,
} from '../src/kafka';
import { conformanceMessage } from '../src/testing';
import { eventually, removeKafkaNamespace, quickConsumer } from './kafka.helpers';

const ns = testNamespace('kafkalag');

jest.setTimeout(60_000);

const n = (delivery: Delivery) => (delivery.envelope.data as { n: number }).n;
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * MEDIUM-2 of review 16: a new 'latest' group showed the topic's whole history as lag, a
 * 'latest' group restarted before its first commit skipped what was published meanwhile, and
 * lag counted records already deleted by retention.
 */
describe('kafka: consumer lag and where a new group starts', () => {
  let connection: ManagedConnection<KafkaClient>;
  let publisher: KafkaPublisher;
  const options: KafkaSubscriberOptions = {
    ...quickConsumer(ns, 3),
  };
  const history = (count: number, from = 0) =>
    Array.from({ length: count }, (_, i) => conformanceMessage(from + i, `k${(from + i) % 7}`));

  beforeAll(async () => {
    connection = kafkaConnection({ brokers: ns.kafkaBrokers, clientId: ns.name('lag') });
    await connection.open();
    publisher = new KafkaPublisher(connection.client, options);
  });
  afterAll(async () => {
    await publisher.close();
    await removeKafkaNamespace(connection.client.admin, ns);
    await connection.close();
  });

  it("a new 'latest' group over a topic with history has lag 0, and a restart skips nothing", async () => {
    const topic = ns.topic('latest');
    await publisher.publish(topic, history(100));
    const groupId = kafkaGroupId('fan', options.groupIdPrefix);
    const got: number[] = [];
    const subscribe = async () => {
      const subscriber = new KafkaSubscriber(connection.client, options);
      await subscriber.subscribe(
        [topic],
        { group: 'fan', consumer: 'c', startFrom: 'latest' },
        async (d) => {
          got.push(n(d));
        },
      );
      return subscriber;
    };
    const subscribers: KafkaSubscriber[] = [];
    try {
      subscribers.push(await subscribe());
      const lag = await kafkaLag(connection.client.admin, [{ group: groupId, topics: [topic] }]);
      await subscribers[0]!.close(); // before it handled (and committed) anything
      await publisher.publish(topic, history(5, 100)); // while no member runs
      subscribers.push(await subscribe());
      await eventually(
        () => got.length >= 5,
        'the 5 messages published between the two runs',
        8_000,
      ).catch(() => undefined);
      expect({ lag, got: [...got].sort((a, b) => a - b) }).toEqual({
        lag: [{ topic, group: groupId, lag: 0 }],
        got: range(100, 104),
      });
    } finally {
      for (const subscriber of subscribers) await subscriber.close();
    }
  });

  it('counts only retained records: a committed offset below the log start is clamped', async () => {
    const topic = ns.topic('retention');
    const single = new KafkaPublisher(connection.client, { ...options, partitions: 1 });
    try {
      await single.publish(topic, history(20));
    } finally {
      await single.close();
    }
    const admin = connection.client.admin;
    const behind = `${ns.id}.behind`;
    await admin.setOffsets({ groupId: behind, topic, partitions: [{ partition: 0, offset: '5' }] });
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '15' }] });
    const fresh = `${ns.id}.fresh`; // nothing committed: starts at the log start (earliest)
    expect(
      await kafkaLag(admin, [
        { group: behind, topics: [topic] },
        { group: fresh, topics: [topic] },
        { group: fresh, topics: [topic], startFrom: 'latest' }, // would start at the end
      ]),
    ).toEqual([
      { topic, group: behind, lag: 5 },
      { topic, group: fresh, lag: 5 },
      { topic, group: fresh, lag: 0 },
    ]);
  });

  // A review (session 47): the groups were asked one after another and the first failure
  // rejected the whole answer — one group over a topic the broker does not have (deleted by an
  // operator, a typo in a dashboard's group list) left every other group's lag unreported: the
  // gauge kept its last figures for all of them, GET /monitor said null.
  it('one group whose offsets cannot be read does not hide the lag of the others', async () => {
    const admin = connection.client.admin;
    const topic = ns.topic('answered');
    const single = new KafkaPublisher(connection.client, { ...options, partitions: 1 });
    try {
      await single.publish(topic, history(9));
    } finally {
      await single.close();
    }
    const good = `${ns.id}.good`;
    await admin.setOffsets({ groupId: good, topic, partitions: [{ partition: 0, offset: '4' }] });
    const gone = ns.topic('never-created');
    const bad = `${ns.id}.bad`;
    const groups = [
      { group: bad, topics: [gone] },
      { group: good, topics: [gone, topic] }, // one topic of a group missing: the others count
    ];

    expect(await kafkaLag(admin, groups)).toEqual([{ topic, group: good, lag: 5 }]);

    const registry = new Registry();
    registerKafkaLag({ admin, registry, groups: () => groups, timeoutMs: 10_000 });
    expect(await registry.getSingleMetricAsString('causeway_consumer_lag')).toContain(
      `causeway_consumer_lag{topic="${topic}",group="${good}"} 5`,
    );
  });

  // Session 48: figures that cannot be read are kept (an outage must not resolve the lag
  // alerts), and so were those of a topic deleted since: its series stayed, frozen, for as long
  // as the process lived.
  it('drops the series of a topic the broker no longer has, keeping the others', async () => {
    const admin = connection.client.admin;
    const doomed = ns.topic('doomed');
    const stays = ns.topic('stays');
    const single = new KafkaPublisher(connection.client, { ...options, partitions: 1 });
    try {
      await single.publish(doomed, history(3));
      await single.publish(stays, history(2));
    } finally {
      await single.close();
    }
    const group = `${ns.id}.watcher`;
    const registry = new Registry();
    registerKafkaLag({
      admin,
      registry,
      groups: () => [{ group, topics: [doomed, stays] }],
      timeoutMs: 10_000,
    });
    const scrape = () => registry.getSingleMetricAsString('causeway_consumer_lag');
    expect(await scrape()).toContain(`causeway_consumer_lag{topic="${doomed}",group="${group}"} 3`);

    await admin.deleteTopics({ topics: [doomed] });
    await eventually(async () => !(await admin.listTopics()).includes(doomed), 'the deletion');

    const text = await scrape();
    expect(text).not.toContain(`topic="${doomed}"`);
    expect(text).toContain(`causeway_consumer_lag{topic="${stays}",group="${group}"} 2`);
  });

  it('rejects, naming the groups and topics, when no group could be answered', async () => {
    const gone = ns.topic('never-created-either');
    const failure = await kafkaLag(connection.client.admin, [
      { group: `${ns.id}.bad`, topics: [gone] },
    ]).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failure?.message).toContain(`group "${ns.id}.bad"`);
    expect(failure?.message).toContain(`topic "${gone}"`);
  });
});
