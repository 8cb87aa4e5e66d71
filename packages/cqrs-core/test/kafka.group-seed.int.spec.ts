import { type Admin, AssignerProtocol } from 'kafkajs';
import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import { z } from 'zod';
import {
  type Delivery,
  EventBus,
  type ManagedConnection,
  MessageFactory,
  messageType,
  Router,
  SerializerRegistry,
  type SubscriptionHandle,
  topicNaming,
} from '../src';
import {
  type KafkaClient,
  kafkaConnection,
  kafkaGroupId,
  KafkaPublisher,
  KafkaSubscriber,
  type KafkaSubscriberOptions,
  legacyKafkaGroupId,
} from '../src/kafka';
import { conformanceMessage, conformanceSerializer } from '../src/testing';

const ns = testNamespace('kafkaseed');

jest.setTimeout(120_000);

async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
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

describe('kafka consumer groups: one per handler group name, whatever its topics', () => {
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

  /** Subscribes `group` (default `ledger`) to `topics`, collecting the `n` of every delivery. */
  async function ledger(
    topics: string[],
    group = 'ledger',
  ): Promise<{ handle: SubscriptionHandle; got: number[] }> {
    const got: number[] = [];
    const handle = await subscriber.subscribe(
      topics,
      { group, consumer: 'c', startFrom: 'earliest' },
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
    // A broker just started loads its group coordinators for a while (COORDINATOR_LOAD_IN_PROGRESS,
    // which seeding would report): wait until the groups of these tests can be read.
    for (const group of ['shared', 'ledger', 'audit', 'league.hall-of-fame', 'hall-of-fame'])
      await eventually(
        () =>
          client.admin.fetchOffsets({ groupId: kafkaGroupId(group, `${ns.id}.`), topics: [] }).then(
            () => true,
            () => false,
          ),
        `the coordinator of ${group}`,
      );
  });

  beforeEach(() => {
    errors.length = 0;
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

  const sorted = (numbers: number[]) => [...numbers].sort((a, b) => a - b);
  const groupOf = (group: string) => kafkaGroupId(group, `${ns.id}.`);

  /** The partitions each member of `groupId` was given, by topic (describeGroups). */
  async function assignments(groupId: string): Promise<Record<string, number[]>[]> {
    const { groups } = await client.admin.describeGroups([groupId]);
    return (groups[0]?.members ?? []).map(
      ({ memberAssignment }) =>
        AssignerProtocol.MemberAssignment.decode(memberAssignment)?.assignment ?? {},
    );
  }

  it('members of one group with different topic sets each get their topics, every message once', async () => {
    const [placed, shipped] = [ns.topic('Placed'), ns.topic('Shipped')];
    const one = await ledger([placed], 'shared');
    const two = await ledger([placed, shipped], 'shared');
    await eventually(
      async () => (await assignments(groupOf('shared'))).length === 2,
      'two members',
    );
    await publish(placed, range(1, 20));
    await publish(shipped, range(101, 110));
    await eventually(
      () => caughtUp(client.admin, groupOf('shared'), [placed, shipped]),
      'the group to consume both topics',
    );
    // Each member holds partitions of its own topics only; every partition has an owner.
    const given = await assignments(groupOf('shared'));
    const topicsOf = given.map((assignment) => Object.keys(assignment).sort());
    expect(topicsOf).toContainEqual([placed]);
    expect(topicsOf).toContainEqual([placed, shipped].sort());
    expect(sorted(given.flatMap((assignment) => assignment[placed] ?? []))).toEqual([0, 1, 2]);
    expect(sorted(given.flatMap((assignment) => assignment[shipped] ?? []))).toEqual([0, 1, 2]);
    // Every message handled exactly once, by a member that subscribed its topic.
    expect(sorted([...one.got, ...two.got])).toEqual([...range(1, 20), ...range(101, 110)]);
    expect(one.got.filter((i) => i > 100)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('a handler whose topic set grows keeps its group: no duplicates side by side, none on rollback', async () => {
    const [deposited, withdrawn] = [ns.topic('Deposited'), ns.topic('Withdrawn')];
    await publish(deposited, range(1, 5));
    const v1 = await ledger([deposited]);
    await eventually(() => caughtUp(client.admin, groupOf('ledger'), [deposited]), 'version 1');
    // Rolling deploy: version 2 (Deposited and Withdrawn) runs beside version 1.
    const v2 = await ledger([deposited, withdrawn]);
    await eventually(async () => (await assignments(groupOf('ledger'))).length === 2, 'both');
    await publish(deposited, range(6, 25));
    await publish(withdrawn, range(101, 105));
    await eventually(
      () => caughtUp(client.admin, groupOf('ledger'), [deposited, withdrawn]),
      'the rolling deploy',
    );
    expect(sorted([...v1.got, ...v2.got])).toEqual([...range(1, 25), ...range(101, 105)]);
    expect(v1.got.filter((i) => i > 100)).toEqual([]);
    // Rollback: version 2 goes, version 1 takes its partitions back where version 2 left them.
    await v2.handle.close();
    await publish(deposited, range(26, 28));
    await eventually(
      () => v1.got.includes(26) && v1.got.includes(27) && v1.got.includes(28),
      '26..28',
    );
    await eventually(() => caughtUp(client.admin, groupOf('ledger'), [deposited]), 'the rollback');
    expect(sorted([...v1.got, ...v2.got])).toEqual([...range(1, 28), ...range(101, 105)]);
    const { groups } = await client.admin.listGroups();
    expect(groups.map(({ groupId }) => groupId).filter((id) => id.includes('.ledger'))).toEqual([
      groupOf('ledger'),
    ]);
    await v1.handle.close();
    expect(errors).toEqual([]);
  });

  it('an upgrade seeds the group from the legacy digest-named groups, then keeps its own progress', async () => {
    const [opened, closed] = [ns.topic('Opened'), ns.topic('Closed')];
    // The previous release's `audit` handled Opened 1..20 in its digest-named group; Closed is
    // added by the upgrade (101..105, nobody handled them yet).
    await publish(opened, range(1, 20));
    await publish(closed, range(101, 105));
    const ends = await client.admin.fetchTopicOffsets(opened);
    await client.admin.setOffsets({
      groupId: legacyKafkaGroupId('audit', [opened], `${ns.id}.`),
      topic: opened,
      partitions: ends.map(({ partition, high }) => ({ partition, offset: high })),
    });
    await publish(opened, range(21, 23));
    const upgraded = await ledger([opened, closed], 'audit');
    await eventually(
      () => caughtUp(client.admin, groupOf('audit'), [opened, closed]),
      'the upgraded release to consume everything',
    );
    expect(sorted(upgraded.got)).toEqual([21, 22, 23, ...range(101, 105)]);
    await upgraded.handle.close();
    // Its own offsets now: a restart is not seeded again (that would deliver 21..23 again).
    const again = await ledger([opened, closed], 'audit');
    await publish(opened, [24]);
    await eventually(() => again.got.includes(24), 'the message published after the restart');
    await eventually(() => caughtUp(client.admin, groupOf('audit'), [opened, closed]), 'restart');
    expect(again.got).toEqual([24]);
    await again.handle.close();
    expect(errors).toEqual([]);
  });

  it('an EventBus serving a renamed type’s former topic shares it with the previous release', async () => {
    const naming = topicNaming(`${ns.id}.bus.`);
    const BadgeWon = messageType('BadgeWon', z.object({ badge: z.string() }));
    const BadgeEarned = messageType('BadgeEarned', z.object({ badge: z.string() }));
    const handled: Record<'release1' | 'release2', string[]> = { release1: [], release2: [] };
    const routers: Router[] = [];
    const closing: { close(): Promise<void> }[] = [];
    const release = async (
      who: 'release1' | 'release2',
      serializer: SerializerRegistry,
      subscribe: (bus: EventBus, seen: string[]) => void,
    ) => {
      const busOptions = { ...options, serializer };
      const busSubscriber = new KafkaSubscriber(client, busOptions);
      const busPublisher = new KafkaPublisher(client, busOptions);
      closing.push(busSubscriber, busPublisher);
      const router = new Router({ subscriber: busSubscriber, service: 'league', instanceId: who });
      routers.push(router);
      const bus = new EventBus({ publisher: busPublisher, router, naming, serializer });
      subscribe(bus, handled[who]);
      await router.run();
      return bus;
    };
    const messages = new MessageFactory();
    try {
      const one = await release(
        'release1',
        new SerializerRegistry().register(BadgeWon),
        (bus, seen) =>
          bus.on(BadgeWon, (event) => void seen.push(event.data.badge), { name: 'hall-of-fame' }),
      );
      await release(
        'release2',
        new SerializerRegistry().register(BadgeEarned).formerNames(BadgeEarned, 'BadgeWon'),
        (bus, seen) =>
          bus.on(BadgeEarned, (event) => void seen.push(event.data.badge), {
            name: 'hall-of-fame',
          }),
      );
      const wonTopic = naming.event(BadgeWon.type);
      const hallOfFame = (await client.admin.listGroups()).groups
        .map(({ groupId }) => groupId)
        .filter((id) => id.startsWith(`${ns.id}.`) && id.includes('hall-of-fame'));
      expect(hallOfFame).toHaveLength(1);
      await eventually(async () => (await assignments(hallOfFame[0]!)).length === 2, 'both');
      await one.publish(
        range(1, 30).map((i) =>
          messages.event(BadgeWon, { badge: `w${i}` }, { aggregateId: `k${i}` }),
        ),
      );
      await eventually(
        () => handled.release1.length + handled.release2.length >= 30,
        'the 30 BadgeWon events',
      );
      await eventually(() => caughtUp(client.admin, hallOfFame[0]!, [wonTopic]), 'commits');
      // Each handled once, by one release or the other: the old topic is split between them.
      const all = [...handled.release1, ...handled.release2].sort();
      expect(all).toEqual(
        range(1, 30)
          .map((i) => `w${i}`)
          .sort(),
      );
      expect(handled.release1.length).toBeGreaterThan(0);
      expect(handled.release2.length).toBeGreaterThan(0);
    } finally {
      for (const router of routers) await router.close();
      for (const resource of closing) await resource.close();
    }
    expect(errors).toEqual([]);
  });
});
