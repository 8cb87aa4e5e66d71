import { type Counter, type Registry } from 'prom-client';
import { type DeadLetterEvent, warnOfDeadLetters } from '../middleware/dead-letter.middleware';
import { type PoisonMessage } from '../transport/transport.port';
import { type DeadLetterQueue } from './dead-letter-queue.port';
import { DECODER, parseWireEnvelope, poisonErrorName } from './poison.kinds';

export interface PoisonDeadLetterOptions {
  /**
   * Registry holding `causeway_messages_dead_lettered_total` (MessagingMetrics, which
   * CqrsCoreModule registers): poison is counted there with handler `(decoder)`. Looked up at
   * each letter, so the subscriber can be built before the metrics.
   */
  registry?: Registry;
  /**
   * Called after each letter is stored (handler `(decoder)`), with the type and message id of
   * the envelope in the raw text; type `(undecodable)` and no message id when the text is not
   * an envelope. Default: warnOfDeadLetters(), the rate-limited warning deadLetter() gives.
   * Errors it throws are ignored (the letter is stored).
   */
  onDeadLetter?: (event: DeadLetterEvent) => void;
}

/**
 * The `onPoison` of a subscriber (Redis Streams, Kafka, in-memory) that dead-letters messages
 * which cannot be decoded — bad JSON, an unknown type, a failed checksum or schema — with the
 * raw payload, the reason and where it was, so they never block their stream or partition and
 * an operator finds them with the other dead letters (`handler: '(decoder)'`). Their errorName
 * tells the two kinds apart: `NotUnderstoodMessageError` — a well-formed envelope this consumer
 * cannot read: of a type or schema version it does not know yet (a rolling deploy), or whose
 * data fails its schema here; a replay writes it back as its raw text once the consumer reads
 * it — or `UndecodableMessageError`: malformed (not JSON, not an envelope, a checksum
 * mismatch), never replayable (see poison.kinds). When the raw text is a wire envelope, the
 * letter records its `type` and `messageId` (a `type` filter selects it; the warning names them).
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
  const onDeadLetter = options.onDeadLetter ?? warnOfDeadLetters();
  return async (poison) => {
    const wire = parseWireEnvelope(poison.raw);
    const letterId = await queue.add({
      raw: poison.raw,
      ...(wire && { type: wire.type, messageId: wire.messageId }),
      originalTopic: poison.topic,
      position: poison.position,
      group: poison.group,
      // A fan-out handler's: its replay is for the instances running then (see replayFor).
      ...(poison.replayFor && { replayFor: poison.replayFor }),
      handler: DECODER,
      reason: poison.reason,
      errorName: poisonErrorName(poison.raw, poison.reason),
      attempts: 1,
      deadLetteredAt: new Date().toISOString(),
    });
    const counter = options.registry?.getSingleMetric('causeway_messages_dead_lettered_total') as
      Counter<'topic' | 'handler'> | undefined;
    counter?.inc({ topic: poison.topic, handler: DECODER });
    try {
      onDeadLetter({
        handler: DECODER,
        topic: poison.topic,
        type: wire?.type ?? '(undecodable)',
        reason: poison.reason,
        messageId: wire?.messageId ?? '',
        group: poison.group,
        letterId,
        attempts: 1,
      });
    } catch {
      // The letter is stored: a failing report must not have the message delivered again.
    }
  };
}
