import { type Delivery } from './transport.port';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { conformanceMessage, conformanceSerializer } from '../testing/transport.conformance';
import { InMemoryBroker } from './in-memory/in-memory.transport';
import { InvalidTopicError, TransportClosedError } from './transport.errors';
import { TopicRoutedPublisher } from './topic-routed.publisher';

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A broker and what its group `g` received. */
async function broker(topics: string[]) {
  const transport = new InMemoryBroker({ serializer: conformanceSerializer() });
  const received: Delivery[] = [];
  await transport
    .subscriber()
    .subscribe(topics, { group: 'g', consumer: 'c' }, async (delivery) => {
      received.push(delivery);
    });
  return { transport, received };
}

describe('TopicRoutedPublisher', () => {
  it("replays each dead letter to the broker its topic is read from, attempts reset, the rest to the fallback's", async () => {
    const bus = await broker(['orders', 'moves']);
    const kafka = await broker(['orders', 'moves']);
    const queue = new InMemoryDeadLetterQueue();
    for (const topic of ['orders', 'moves'])
      await queue.add({
        envelope: (() => {
          const message = conformanceMessage(1, topic);
          return { ...message, metadata: { ...message.metadata, retryCount: 3 } };
        })(),
        originalTopic: topic,
        position: '0',
        group: 'g',
        handler: 'h',
        reason: 'boom',
        errorName: 'Error',
        attempts: 4,
        deadLetteredAt: new Date().toISOString(),
      });
    const routed = new TopicRoutedPublisher(bus.transport, { orders: kafka.transport });

    expect(await queue.replay({}, routed)).toMatchObject({ replayed: 2, failures: 0 });

    await until(() => kafka.received.length === 1 && bus.received.length === 1, 'the replays');
    expect(kafka.received[0]).toMatchObject({
      topic: 'orders',
      envelope: { aggregateId: 'orders', metadata: { retryCount: 0 } },
    });
    expect(bus.received[0]).toMatchObject({ topic: 'moves', envelope: { aggregateId: 'moves' } });
    await routed.close();
    await expect(routed.publish('orders', [conformanceMessage(2)])).rejects.toThrow(
      TransportClosedError,
    );
    await bus.transport.close();
    await kafka.transport.close();
  });

  it("writes raw text through the topic's publisher, and names the topic when that one cannot", async () => {
    const kafka = await broker(['orders']);
    const plain = { publish: async () => undefined, close: async () => undefined };
    const routed = new TopicRoutedPublisher(plain, { orders: kafka.transport });

    const message = conformanceMessage(3);
    await routed.publishRaw(
      'orders',
      'k',
      JSON.stringify(conformanceSerializer().serialize(message)),
    );
    await until(() => kafka.received.length === 1, 'the raw text');
    expect(kafka.received[0]!.envelope.messageId).toBe(message.messageId);
    await expect(routed.publishRaw('moves', 'k', '{}')).rejects.toThrow(
      new TypeError(
        'the publisher of topic moves cannot write raw text (no publishRaw): a poison letter is replayed as its raw text',
      ),
    );
    await kafka.transport.close();
  });

  it('refuses a route whose topic no transport takes, as the transports refuse it (checkTopic)', () => {
    const plain = { publish: async () => undefined, close: async () => undefined };
    expect(() => new TopicRoutedPublisher(plain, { '': plain })).toThrow(
      new InvalidTopicError('', 'TopicRoutedPublisher takes a non-empty string as a topic, got ""'),
    );
    // Session 49: ' ' was refused here ("a route has no topic") while the transports took it;
    // 'a b' and 'a:b' were taken here and by all but Kafka.
    for (const topic of [' ', 'orders created', 'orders:created'])
      expect(() => new TopicRoutedPublisher(plain, { [topic]: plain })).toThrow(
        new InvalidTopicError(
          topic,
          "TopicRoutedPublisher takes no topic with ':' (Redis Streams' key separator) or white space",
        ),
      );
  });

  // A review (session 43): no routes threw "Cannot convert undefined or null to object"; no
  // fallback, or a route to something else than a publisher, failed only at a publish.
  it('refuses a fallback, routes or a route publisher that is none, naming it', () => {
    const plain = { publish: async () => undefined, close: async () => undefined };
    const build = (fallback: unknown, routes: unknown) => () =>
      new TopicRoutedPublisher(fallback as typeof plain, routes as Record<string, typeof plain>);
    expect(build(undefined, {})).toThrow(
      new TypeError(
        'TopicRoutedPublisher: fallback must be a Publisher (with publish), got undefined',
      ),
    );
    expect(build(plain, undefined)).toThrow(
      new TypeError(
        'TopicRoutedPublisher: routes must be an object of topic → Publisher, got undefined',
      ),
    );
    expect(build(plain, { orders: 'kafka' })).toThrow(
      new TypeError(
        'TopicRoutedPublisher: the route of "orders" must be a Publisher (with publish), got "kafka"',
      ),
    );
    expect(build(plain, { orders: {} })).toThrow(/got an object without publish$/);
    expect(build(plain, { orders: plain })).not.toThrow();
  });
});
