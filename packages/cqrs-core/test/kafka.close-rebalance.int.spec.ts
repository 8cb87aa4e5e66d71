import { testNamespace } from '@causeway/testkit';
import { type Delivery, type SubscriptionHandle, TransportClosedError } from '../src';
import { KafkaPublisher, KafkaSubscriber, type KafkaSubscriberOptions } from '../src/kafka';
import { conformanceMessage } from '../src/testing';
import { eventually, quickConsumer, within, useKafkaConnection } from './kafka.helpers';

const ns = testNamespace('kafkacloserebal');
jest.setTimeout(90_000);

/**
 * close() while the group rebalances (session 37): kafkajs's stop waits for the member's
 * JoinGroup, which the broker answers only once every member rejoined — a member busy with a
 * delivery holds it for up to rebalanceTimeoutMs — so close() took 9 s past a 0.5 s
 * closeTimeoutMs. It must resolve within closeTimeoutMs + CLOSE_GRACE_MS (1 s).
 */
describe('kafka: close() while a rebalance is under way', () => {
  const connection = useKafkaConnection(ns, 'rebal');
  // rebalanceTimeoutMs 10 s (quickConsumer): how long a busy member may hold the rebalance.
  const options: KafkaSubscriberOptions = { ...quickConsumer(ns, 2), closeTimeoutMs: 500 };

  it('resolves within its bound for a member still joining and for the busy one; the delivery in flight goes to the next owner', async () => {
    const topic = ns.topic('busy');
    const publisher = new KafkaPublisher(connection().client, options);
    const [first, second, third] = [0, 1, 2].map(
      () => new KafkaSubscriber(connection().client, options),
    ) as [KafkaSubscriber, KafkaSubscriber, KafkaSubscriber];
    const deliveries: { member: KafkaSubscriber; attempt: number }[] = [];
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    const member = (subscriber: KafkaSubscriber, consumer: string) =>
      subscriber.subscribe([topic], { group: 'g', consumer }, async (delivery: Delivery) => {
        deliveries.push({ member: subscriber, attempt: delivery.attempt });
        if (delivery.attempt === 1) await hung; // the first delivery never finishes
      });
    try {
      await member(first, 'c1');
      await member(second, 'c2');
      await publisher.publish(topic, [conformanceMessage(1, 'a')]);
      await eventually(() => deliveries.length === 1, 'the delivery in flight');
      const busy = deliveries[0]!.member;
      const idle = busy === first ? second : first;

      // A third member joins: the rebalance waits for the busy member.
      const joining = member(third, 'c3').then(
        () => undefined,
        (error: unknown) => error,
      );
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      let started = Date.now();
      await within(20_000, third.close());
      const joiningClosedMs = Date.now() - started;

      started = Date.now();
      await within(20_000, busy.close());
      const busyClosedMs = Date.now() - started;

      // closeTimeoutMs 500 + CLOSE_GRACE_MS 1 000, and a little for a loaded machine.
      expect(joiningClosedMs).toBeLessThan(2_000);
      expect(busyClosedMs).toBeLessThan(2_000);
      // The subscribe() in progress failed (once the broker answered its join).
      expect(await within(20_000, joining)).toBeInstanceOf(TransportClosedError);
      // Not committed: the idle member gets the message again, counted as a second attempt.
      await eventually(
        () => deliveries.some((d) => d.member === idle && d.attempt === 2),
        'the redelivery to the remaining member',
      );
    } finally {
      release();
      await Promise.all([first.close(), second.close(), third.close()]);
      await publisher.close();
    }
  });

  // A shutdown closes a subscription twice: the Router closes its handle, then the app closes
  // the subscriber (CqrsCoreModule, order-processor). While a rebalance held the member's stop,
  // the second close() waited the whole closeTimeoutMs + CLOSE_GRACE_MS again: twice the bound,
  // past SHUTDOWN_TIMEOUT_MS when that is the budget the bound was derived from (exit 1).
  it("a second close() (the router's handle, then the subscriber's) adds no second wait", async () => {
    const topic = ns.topic('twice');
    const publisher = new KafkaPublisher(connection().client, options);
    const [first, second, third] = [0, 1, 2].map(
      () => new KafkaSubscriber(connection().client, options),
    ) as [KafkaSubscriber, KafkaSubscriber, KafkaSubscriber];
    const deliveries: KafkaSubscriber[] = [];
    const handles = new Map<KafkaSubscriber, SubscriptionHandle>();
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    const member = async (subscriber: KafkaSubscriber, consumer: string) => {
      const handle = await subscriber.subscribe(
        [topic],
        { group: 'g', consumer },
        async (delivery: Delivery) => {
          deliveries.push(subscriber);
          if (delivery.attempt === 1) await hung;
        },
      );
      handles.set(subscriber, handle);
    };
    try {
      await member(first, 'c1');
      await member(second, 'c2');
      await publisher.publish(topic, [conformanceMessage(1, 'a')]);
      await eventually(() => deliveries.length === 1, 'the delivery in flight');
      const idle = deliveries[0] === first ? second : first;
      // A third member joins: the rebalance waits for the busy member, and the idle member's
      // stop waits for its join.
      const joining = member(third, 'c3').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 1_000));

      let started = Date.now();
      await within(20_000, handles.get(idle)!.close()); // the Router's close
      const firstMs = Date.now() - started;
      started = Date.now();
      await within(20_000, idle.close()); // the app's, after the Router's
      const secondMs = Date.now() - started;

      // closeTimeoutMs 500 + CLOSE_GRACE_MS 1 000, and a little for a loaded machine.
      expect(firstMs).toBeLessThan(2_000);
      // The member leaves in the background already: nothing is left to wait for.
      expect(secondMs).toBeLessThan(300);

      // Likewise a subscriber closed twice while its subscribe() is still joining.
      await within(20_000, third.close());
      started = Date.now();
      await within(20_000, third.close());
      expect(Date.now() - started).toBeLessThan(300);
      await within(20_000, joining);
    } finally {
      release();
      await Promise.all([first.close(), second.close(), third.close()]);
      await publisher.close();
      // close() does not wait twice: the idle and the joining member leave in the background.
      // The group must be empty before the file ends, or kafkajs still sends (and loads its
      // request modules) after jest tore the environment down, which fails the run.
      await eventually(
        async () => {
          const { groups } = await connection().client.admin.describeGroups([`${ns.id}.g`]);
          return (groups[0]?.members.length ?? 0) === 0;
        },
        'every member gone from the group',
        30_000,
      );
    }
  });
});
