import { shownValue } from '../config/shown-value';
import { type Envelope } from '../messages/envelope';

/**
 * Checks the order key of a message given to publish: its `aggregateId`, a string ('' for a
 * message of no aggregate, as MessageFactory writes it), on every transport alike (ADR 013: a
 * mistake is refused at once, the same on every backend). An envelope built by hand without
 * one was taken by the in-memory broker (every such message one key, delivered without
 * aggregateId), and refused by Redis Streams and Kafka with a TypeError from inside their
 * partitioners that named neither the message nor the field (session 49). Each publisher
 * checks every message before it sends any, so a refused one stops its whole batch.
 * @param owner what the message names first, e.g. `RedisStreamsPublisher.publish`
 * @throws TypeError naming the owner, the message, the topic and the value given
 */
export function checkOrderKey(owner: string, topic: string, envelope: Envelope): void {
  const key: unknown = (envelope as Partial<Envelope> | null)?.aggregateId;
  if (typeof key === 'string') return;
  throw new TypeError(
    `${owner}: a message's aggregateId must be a string ('' for none, as MessageFactory ` +
      `writes it), got ${shownValue(key)} (message ${String(envelope?.messageId)}, topic ${topic})`,
  );
}
