import { shownValue } from '../config/shown-value';
import { InvalidTopicError } from './transport.errors';

/**
 * Checks a topic given to publish, publishRaw or subscribe (and a TopicRoutedPublisher's
 * routes): a non-empty string without ':' or white space, on every transport alike (ADR 013: a
 * mistake is refused at once, the same on every backend). A backend's own rules come after it
 * (Kafka's characters and length: checkKafkaTopic).
 *
 * - A topic from a missing setting (`undefined`) or an empty one was refused by Redis Streams
 *   and Kafka but taken by the in-memory broker, so a test or the embedded mode passed with the
 *   mistake that a deployment refused.
 * - ':' separates the parts of Redis Streams' keys (`<topic>:<lane>:<partition>`,
 *   `<topic>:group:<group>:members|lease:<p>|trimmed:<p>`, StreamKeys): topic `a:group:b` with
 *   group `c` and topic `a` with group `b:group:c` shared their members, leases and copies of
 *   trimmed entries, so two groups took each other's partitions. Without ':' in topics every key
 *   names one topic, whatever the group names. Kafka refused it already.
 * - White space: TopicRoutedPublisher refused a route of ' ' while the in-memory broker and Redis
 *   Streams took the topic, and Kafka refused any. No name the library makes has any
 *   (topicNaming takes letters, digits, '.', '_' and '-').
 *
 * Other characters are fine where the broker takes them: Redis keys are binary safe (a hash tag
 * `{orders}` is how a topic's streams share a Redis Cluster slot), and Kafka's own rule refuses
 * the rest there.
 * @param owner what the message names, e.g. `RedisStreamsPublisher.publish`
 * @throws InvalidTopicError naming the topic given and the owner
 */
export function checkTopic(owner: string, topic: unknown): void {
  if (typeof topic !== 'string' || topic.length === 0)
    throw new InvalidTopicError(
      String(topic),
      `${owner} takes a non-empty string as a topic, got ${shownValue(topic)}`,
    );
  if (/[\s:]/.test(topic))
    throw new InvalidTopicError(
      topic,
      `${owner} takes no topic with ':' (Redis Streams' key separator) or white space`,
    );
}
