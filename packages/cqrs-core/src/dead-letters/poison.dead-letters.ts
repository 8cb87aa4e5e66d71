import { type Counter, type Registry } from 'prom-client';
import { type DeadLetterEvent, warnOfDeadLetters } from '../middleware/dead-letter.middleware';
import { reply } from '../buses/command.reply';
import { type Publisher, type PoisonMessage } from '../transport/transport.port';
import { type DeadLetterQueue } from './dead-letter-queue.port';
import { DECODER, parseWireEnvelope, poisonErrorName, type WireEnvelope } from './poison.kinds';

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
  /**
   * Where to answer the sender of a poison command: when the raw text is a command envelope
   * carrying `metadata.replyTo` (sent by `CommandBus.request`), a failed reply — its error
   * named `NotUnderstoodMessageError` or `UndecodableMessageError` (see poison.kinds), its
   * message the reason — is published there once the letter is stored, so that the sender
   * gets a CommandRejectedError at once instead of a CommandTimeoutError after its timeout.
   * The publisher's serializer must know the reply type (`CommandReply`: any CommandBus built
   * on that SerializerRegistry registers it). A function when the publisher is built after
   * the subscriber (an InMemoryBroker is both). Best effort: a reply that cannot be published
   * is dropped (the letter is stored; the sender then times out, as without this option).
   * Default: none.
   */
  replies?: Pick<Publisher, 'publish'> | (() => Pick<Publisher, 'publish'>);
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
 * With `replies`, the sender of a poison command awaiting its reply is told at once.
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
    if (wire && options.replies) await answerSender(options.replies, wire, poison);
  };
}

/**
 * Publishes a failed reply to a poison command's `metadata.replyTo`, when it has one: the
 * sender's request then fails at once, naming why, instead of waiting out its timeout.
 */
async function answerSender(
  replies: NonNullable<PoisonDeadLetterOptions['replies']>,
  command: WireEnvelope,
  poison: PoisonMessage,
): Promise<void> {
  const { replyTo, category } = command.metadata;
  if (category !== 'command' || typeof replyTo !== 'string') return;
  const answer = reply(
    {
      messageId: command.messageId,
      aggregateId: typeof command.aggregateId === 'string' ? command.aggregateId : '',
      aggregateType: typeof command.aggregateType === 'string' ? command.aggregateType : '',
      metadata: command.metadata,
    },
    {
      ok: false,
      error: {
        name: poisonErrorName(poison.raw, poison.reason),
        message:
          `${command.type} ${command.messageId} could not be read by its handler's service ` +
          `and was dead-lettered, unhandled: ${poison.reason}`,
      },
    },
  );
  try {
    const publisher = typeof replies === 'function' ? replies() : replies;
    await publisher.publish(replyTo, [answer]);
  } catch {
    // The letter is stored: failing here would have the message delivered, and stored, again.
    // The sender times out instead, as it did before it could be answered.
  }
}
