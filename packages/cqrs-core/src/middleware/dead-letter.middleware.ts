import { type DeadLetterQueue } from '../dead-letters/dead-letter-queue.port';
import { errorNameOf } from '../messages/error.name';
import { type Middleware } from '../router/handler';
import {
  classifyError,
  RetriesExhaustedError,
  type ErrorDisposition,
} from '../router/handler.errors';

/** What a handler chain resolves with when the message was dead-lettered instead of handled. */
export class DeadLettered {
  constructor(
    readonly letterId: string,
    readonly error: unknown,
  ) {}
}

export interface DeadLetterOptions {
  queue: DeadLetterQueue;
  classify?: (error: unknown) => ErrorDisposition;
  onDeadLetter?: (event: { handler: string; topic: string; type: string; reason: string }) => void;
  /**
   * Dead-letter, without running the handler, a message the transport delivers for the
   * `maxDeliveries + 1`-th time (its `delivery.attempt`, which survives crashes on Redis Streams
   * and Kafka): one whose handler keeps killing its consumer, so that it never reaches retry's
   * give-up. Off by default. Deferred deliveries (an open breaker) count too: set it well above
   * the redeliveries a long outage can cause.
   */
  maxDeliveries?: number;
}

/** The transport delivered the message more often than `maxDeliveries` allows. */
export class TooManyDeliveriesError extends Error {
  constructor(
    readonly deliveries: number,
    readonly maxDeliveries: number,
  ) {
    super(
      `delivered ${deliveries} times (more than maxDeliveries ${maxDeliveries}) without being ` +
        `settled: its handler may crash its consumer`,
    );
    this.name = 'TooManyDeliveriesError';
  }
}

/**
 * Moves a message to the dead-letter queue when its handler gave up (retries exhausted or a
 * permanent error) and acknowledges it, so that it never blocks its stream. Deferred errors pass
 * through (the transport redelivers). If storing the dead letter fails, the error propagates and
 * the message stays unacknowledged: nothing is lost. Place it OUTSIDE retry. With
 * `maxDeliveries` it also catches what retry cannot: a message that crashes its consumer.
 */
export function deadLetter(options: DeadLetterOptions): Middleware {
  const classify = options.classify ?? classifyError;
  const maxDeliveries = options.maxDeliveries;
  return (next, info) => async (delivery) => {
    try {
      if (maxDeliveries !== undefined && delivery.attempt > maxDeliveries)
        throw new TooManyDeliveriesError(delivery.attempt, maxDeliveries);
      return await next(delivery);
    } catch (error) {
      const exhausted = error instanceof RetriesExhaustedError;
      const crashing = error instanceof TooManyDeliveriesError;
      if (!exhausted && !crashing && classify(error) !== 'permanent') throw error;
      const cause = exhausted ? error.lastError : error;
      const reason = (cause as Error)?.message ?? String(cause);
      const letterId = await options.queue.add({
        envelope: delivery.envelope,
        originalTopic: delivery.topic,
        position: delivery.position,
        group: delivery.group,
        handler: info.name,
        reason,
        // The name the command's sender gets too (CommandRejectedError.remoteName).
        errorName: errorNameOf(cause),
        stack: (cause as Error)?.stack,
        attempts: exhausted ? error.attempts : crashing ? error.deliveries : 1,
        deadLetteredAt: new Date().toISOString(),
      });
      options.onDeadLetter?.({
        handler: info.name,
        topic: delivery.topic,
        type: delivery.envelope.type,
        reason,
      });
      return new DeadLettered(letterId, cause);
    }
  };
}
