import { testNamespace } from '@causeway/testkit';
import { type Delivery } from '../src';
import { KafkaPublisher, KafkaSubscriber, type KafkaSubscriberOptions } from '../src/kafka';
import { conformanceMessage } from '../src/testing';
import { eventually, within, quickConsumer, useKafkaConnection } from './kafka.helpers';

const ns = testNamespace('kafkaclose');

jest.setTimeout(60_000);

const n = (delivery: Delivery) => (delivery.envelope.data as { n: number }).n;

/**
 * MEDIUM-3 of review 16: close() waited for a handler that never settles, for good, and the
 * member kept its partitions meanwhile (it heartbeats while a handler runs).
 */
describe('kafka: close() with a handler that never settles', () => {
  const connection = useKafkaConnection(ns, 'close');
  const options: KafkaSubscriberOptions = {
    ...quickConsumer(ns, 2),
    closeTimeoutMs: 2_000,
  };

  it('resolves after closeTimeoutMs, leaving the delivery uncommitted for the next member', async () => {
    const topic = ns.topic('hung');
    const publisher = new KafkaPublisher(connection().client, options);
    const first = new KafkaSubscriber(connection().client, options);
    const second = new KafkaSubscriber(connection().client, options);
    const hung: Delivery[] = [];
    const handled: { n: number; attempt: number }[] = [];
    try {
      await publisher.publish(topic, [conformanceMessage(1, 'a')]); // creates the topic
      const handle = await first.subscribe([topic], { group: 'g', consumer: 'c1' }, (d) => {
        hung.push(d);
        return new Promise<void>(() => undefined); // never settles
      });
      await eventually(() => hung.length === 1, 'the first delivery');
      await publisher.publish(topic, [conformanceMessage(2, 'a')]); // behind it, same partition

      const started = Date.now();
      await within(8_000, handle.close());
      const tookMs = Date.now() - started;
      expect(tookMs).toBeGreaterThanOrEqual(1_900);
      expect(tookMs).toBeLessThan(6_000);

      await second.subscribe([topic], { group: 'g', consumer: 'c2' }, async (d) => {
        handled.push({ n: n(d), attempt: d.attempt });
      });
      await eventually(() => handled.length >= 2, 'both messages at the next member');
      expect(handled).toEqual([
        { n: 1, attempt: 2 },
        { n: 2, attempt: 1 },
      ]);
    } finally {
      await first.kill();
      await second.close();
      await publisher.close();
    }
  });
});
