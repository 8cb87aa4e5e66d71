import { shownValue } from '../config/shown-value';
import { InvalidTopicError } from './transport.errors';

/**
 * Checks a topic given to publish, publishRaw or subscribe: a non-empty string, on every
 * transport alike (ADR 013: a mistake is refused at once, the same on every backend). A topic
 * from a missing setting (`undefined`) or an empty one was refused by Redis Streams and Kafka
 * but taken by the in-memory broker, so a test or the embedded mode passed with the mistake
 * that a deployment refused. A backend's own rules come after it (Kafka's characters and
 * length: checkKafkaTopic).
 * @param owner what the message names, e.g. `RedisStreamsPublisher.publish`
 * @throws InvalidTopicError naming the topic given and the owner
 */
export function checkTopic(owner: string, topic: unknown): void {
  if (typeof topic !== 'string' || topic.length === 0)
    throw new InvalidTopicError(
      String(topic),
      `${owner} takes a non-empty string as a topic, got ${shownValue(topic)}`,
    );
}
