import { type RawPublisher } from '../dead-letters/dead-letter-queue.port';
import { type Envelope, type Priority } from '../messages/envelope';
import { shownValue } from '../config/shown-value';
import { TransportClosedError } from './transport.errors';
import { checkPublisherArgument } from './transport-options.check';
import { checkTopic } from './topic.check';
import { type Publisher } from './transport.port';

/**
 * A publisher that sends each topic where it is consumed: the topics named in `routes` through
 * their publisher, every other topic through `fallback`. For what publishes to topics of more
 * than one transport, such as a dead-letter replay in an app whose handlers read one topic from
 * Kafka and the rest from Redis Streams: a letter goes back to the broker its topic came from.
 *
 * Contract: `publish` and `publishRaw` go to exactly one publisher, chosen by the exact topic
 * name; `publishRaw` rejects with a TypeError (a letter error: a replay goes on) when that
 * publisher cannot write raw text. It owns none of its publishers: `close` only refuses later
 * publishes (TransportClosedError); whoever made the publishers closes them.
 */
export class TopicRoutedPublisher implements Publisher, RawPublisher {
  private readonly routes: ReadonlyMap<string, Publisher>;
  private closed = false;

  /**
   * @throws TypeError when `fallback` or a route's publisher is no Publisher, or `routes` no
   *   object
   * @throws InvalidTopicError (a TypeError) when a route's topic is none the transports take
   *   (checkTopic): a route of ' ' was refused here while the transports took the topic
   */
  constructor(
    private readonly fallback: Publisher,
    routes: Readonly<Record<string, Publisher>>,
  ) {
    checkPublisherArgument('TopicRoutedPublisher', 'fallback', fallback);
    if (typeof routes !== 'object' || routes === null || Array.isArray(routes))
      throw new TypeError(
        `TopicRoutedPublisher: routes must be an object of topic → Publisher, got ${shownValue(routes)}`,
      );
    for (const [topic, publisher] of Object.entries(routes)) {
      checkTopic('TopicRoutedPublisher', topic);
      checkPublisherArgument(
        'TopicRoutedPublisher',
        `the route of ${JSON.stringify(topic)}`,
        publisher,
      );
    }
    this.routes = new Map(Object.entries(routes));
  }

  /** The publisher `topic` goes through. */
  publisherOf(topic: string): Publisher {
    return this.routes.get(topic) ?? this.fallback;
  }

  async publish(topic: string, messages: readonly Envelope[]): Promise<void> {
    if (this.closed) throw new TransportClosedError('TopicRoutedPublisher');
    await this.publisherOf(topic).publish(topic, messages);
  }

  async publishRaw(topic: string, key: string, raw: string, priority?: Priority): Promise<void> {
    if (this.closed) throw new TransportClosedError('TopicRoutedPublisher');
    const publisher = this.publisherOf(topic);
    const write = (publisher as Partial<RawPublisher>).publishRaw;
    if (typeof write !== 'function')
      throw new TypeError(
        `the publisher of topic ${topic} cannot write raw text (no publishRaw): a poison ` +
          'letter is replayed as its raw text',
      );
    await write.call(publisher, topic, key, raw, priority);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
