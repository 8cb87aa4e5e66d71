import {
  EventBus,
  MessageFactory,
  Router,
  SerializerRegistry,
  topicNaming,
} from '@causeway/cqrs-core';
import { kafkaConnection, KafkaPublisher, KafkaSubscriber } from '@causeway/cqrs-core/kafka';
import { testNamespace } from '@causeway/testkit';
import { z } from 'zod';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('guide: Kafka', () => {
  const ns = testNamespace('guidekafka');
  const KAFKA_BROKERS = ns.kafkaBrokers; // in your service: process.env.KAFKA_BROKERS.split(',')
  const PREFIX = `${ns.topic('bank')}.`; // e.g. 'bank.'
  // #region guide:kafka
  const kafka = kafkaConnection({ brokers: KAFKA_BROKERS, clientId: 'accounts' });
  // #endregion
  const created: string[] = [];
  const groupsCreated: string[] = [];
  afterAll(async () => {
    await kafka.client.admin.deleteGroups(groupsCreated).catch(() => undefined);
    await kafka.client.admin.deleteTopics({ topics: created }).catch(() => undefined);
    await kafka.close();
  });

  it('publishes and consumes events', async () => {
    const received: number[] = [];
    // #region guide:kafka-transport
    await kafka.open();
    const serializer = new SerializerRegistry().register(
      'MoneyDeposited',
      z.object({ amount: z.number() }),
    );
    const options = { serializer, partitions: 3, replicationFactor: 1 }; // topics are created on use
    const publisher = new KafkaPublisher(kafka.client, options);
    // groups are named <PREFIX><service>.<handler>, so deployments on one cluster don't share them
    const subscriber = new KafkaSubscriber(kafka.client, { ...options, groupIdPrefix: PREFIX });

    const naming = topicNaming(PREFIX);
    const router = new Router({ subscriber, service: 'statements', instanceId: 'stmt-1' });
    const events = new EventBus({ publisher, router, naming });
    events.on<{ amount: number }>(
      'MoneyDeposited',
      (event) => void received.push(event.data.amount),
      {
        name: 'statement-lines',
      },
    );
    await router.run(); // resolves once the consumer group has joined

    await events.publish([
      new MessageFactory().event('MoneyDeposited', { amount: 12 }, { aggregateId: 'acc-1' }),
    ]);
    // #endregion
    created.push(naming.event('MoneyDeposited'));
    for (const deadline = Date.now() + 30_000; received.length === 0 && Date.now() < deadline;)
      await wait(50);
    expect(received).toEqual([12]);
    // The group carries this run's prefix: another run on the same broker (or one killed
    // moments ago, still holding its group for the session timeout) has a group of its own.
    groupsCreated.push(`${PREFIX}statements.statement-lines`);
    const { groups } = await kafka.client.admin.listGroups();
    expect(groups.map(({ groupId }) => groupId)).toContain(`${PREFIX}statements.statement-lines`);
    await router.close();
    await subscriber.close();
    await publisher.close();
  }, 60_000);
});
