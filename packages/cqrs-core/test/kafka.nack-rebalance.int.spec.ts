import { testNamespace } from '@causeway/testkit';
import { type Delivery, type SubscriptionHandle } from '../src';
import { KafkaPublisher, KafkaSubscriber, type KafkaSubscriberOptions } from '../src/kafka';
import { conformanceMessage } from '../src/testing';
import { eventually, quickConsumer, useKafkaConnection } from './kafka.helpers';

const ns = testNamespace('kafkanackreb');

jest.setTimeout(60_000);

const n = (delivery: Delivery) => (delivery.envelope.data as { n: number }).n;

/**
 * A handler that fails while its group rebalances (a member joins): the batch stops for the
 * rejoin, and the partition was not paused, so when this member kept it the message came back
 * right after the rejoin, without `redeliveryDelayMs` (a review, session 46).
 */
describe('kafka: a nack during a rebalance', () => {
  const connection = useKafkaConnection(ns, 'nackreb');

  it('still waits redeliveryDelayMs when the member keeps the partition', async () => {
    const topic = ns.topic('nacked');
    const other = ns.topic('other');
    const options: KafkaSubscriberOptions = { ...quickConsumer(ns, 1), redeliveryDelayMs: 8_000 };
    const publisher = new KafkaPublisher(connection().client, options);
    const subscriber = new KafkaSubscriber(connection().client, options);
    const joining = new KafkaSubscriber(connection().client, options);
    const attempts: { attempt: number; at: number }[] = [];
    let handle: SubscriptionHandle | undefined;
    let joined: Promise<SubscriptionHandle> | undefined;
    try {
      await publisher.publish(other, [conformanceMessage(1, 'other')]);
      await publisher.publish(topic, [conformanceMessage(0, 'bad')]);
      handle = await subscriber.subscribe([topic], { group: 'g', consumer: 'a' }, async (d) => {
        if (n(d) !== 0) return;
        if (d.attempt === 1) {
          // Another member of the group joins, for another topic: this one keeps its partition.
          joined = joining.subscribe([other], { group: 'g', consumer: 'b' }, async () => {});
          // The subscription's heartbeat has seen the rebalance: the batch stops after this.
          const seen = handle as unknown as { unsettled?: boolean };
          await eventually(() => seen.unsettled === true, 'the rebalance seen', 20_000);
        }
        attempts.push({ attempt: d.attempt, at: Date.now() });
        if (d.attempt === 1) throw new Error('fails while the group rebalances');
      });
      await eventually(() => attempts.length === 2, 'the redelivery', 30_000);
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2]);
      expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(7_900);
    } finally {
      await (await joined?.catch(() => undefined))?.close();
      await handle?.close();
      await joining.close();
      await subscriber.close();
      await publisher.close();
    }
  });
});
