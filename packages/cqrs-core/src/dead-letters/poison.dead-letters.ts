import { type Counter, type Registry } from 'prom-client';
import { type PoisonMessage } from '../transport/transport.port';
import { type DeadLetterQueue } from './dead-letter-queue.port';

export interface PoisonDeadLetterOptions {
  /**
   * Registry holding `causeway_messages_dead_lettered_total` (MessagingMetrics, which
   * CqrsCoreModule registers): poison is counted there with handler `(decoder)`. Looked up at
   * each letter, so the subscriber can be built before the metrics.
   */
  registry?: Registry;
}

/**
 * The `onPoison` of a subscriber (Redis Streams, Kafka, in-memory) that dead-letters messages
 * which cannot be decoded — bad JSON, an unknown type, a failed checksum or schema — with the
 * raw payload, the reason and where it was, so they never block their stream or partition and
 * an operator finds them with the other dead letters (`handler: '(decoder)'`; they cannot be
 * replayed, as there is no envelope to publish).
 *
 * If the queue refuses the letter, the returned promise rejects and the transport treats the
 * message as a failed delivery (it is delivered again later): poison is never dropped silently.
 *
 * @example new RedisStreamsSubscriber({ ..., onPoison: poisonToDeadLetters(queue, { registry }) })
 */
export function poisonToDeadLetters(
  queue: DeadLetterQueue,
  options: PoisonDeadLetterOptions = {},
): (poison: PoisonMessage) => Promise<void> {
  return async (poison) => {
    await queue.add({
      raw: poison.raw,
      originalTopic: poison.topic,
      position: poison.position,
      group: poison.group,
      handler: '(decoder)',
      reason: poison.reason,
      errorName: 'UndecodableMessageError',
      attempts: 1,
      deadLetteredAt: new Date().toISOString(),
    });
    const counter = options.registry?.getSingleMetric('causeway_messages_dead_lettered_total') as
      Counter<'topic' | 'handler'> | undefined;
    counter?.inc({ topic: poison.topic, handler: '(decoder)' });
  };
}
