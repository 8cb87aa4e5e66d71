import { testNamespace } from '@causeway/testkit';
import { type Delivery, type ManagedConnection, TransportClosedError } from '../src';
import { type KafkaClient, kafkaConnection, KafkaPublisher, KafkaSubscriber } from '../src/kafka';
import { conformanceMessage } from '../src/testing';
import { quickConsumer, removeKafkaNamespace, within } from './kafka.helpers';

const ns = testNamespace('kafkaclosesub');
jest.setTimeout(90_000);

/**
 * KafkaSubscriber.close() while a subscribe() is still creating its topic or joining its group
 * (a review, session 35): close() resolved at once, and the subscription then went on consuming.
 */
describe('KafkaSubscriber.close() during subscribe()', () => {
  let connection: ManagedConnection<KafkaClient>;
  let publisher: KafkaPublisher;
  beforeAll(async () => {
    connection = kafkaConnection({ brokers: ns.kafkaBrokers, clientId: ns.name('closesub') });
    await connection.open();
    publisher = new KafkaPublisher(connection.client, quickConsumer(ns, 1));
  });
  afterAll(async () => {
    await publisher.close();
    await removeKafkaNamespace(connection.client.admin, ns);
    await connection.close();
  });

  // Close at once (the topic is being created), and a little later (the group join, or done).
  it.each([0, 300])(
    'leaves nothing consuming once close() resolved (close after %i ms)',
    async (delayMs) => {
      const subscriber = new KafkaSubscriber(connection.client, quickConsumer(ns, 1));
      const topic = ns.topic(`late-${delayMs}`); // does not exist yet
      const seen: Delivery[] = [];
      const subscribing = subscriber
        .subscribe([topic], { group: `g-${delayMs}`, consumer: 'c' }, async (delivery) => {
          seen.push(delivery);
        })
        .then(
          (handle) => ({ handle, error: undefined }),
          (error: unknown) => ({ handle: undefined, error }),
        );
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      await within(60_000, subscriber.close());
      // The subscribe() had finished by then: failed as the subscriber closed, or (it was done
      // before) its subscription closed with the others.
      const outcome = await within(1_000, subscribing);
      try {
        if (delayMs === 0) expect(outcome.handle).toBeUndefined();
        if (!outcome.handle) expect(outcome.error).toBeInstanceOf(TransportClosedError);
        await publisher.publish(topic, [conformanceMessage(1, 'a')]);
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        expect(seen).toHaveLength(0);
      } finally {
        await outcome.handle?.close();
      }
    },
  );
});
