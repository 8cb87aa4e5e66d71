import { type DeadLetterQueue } from '../dead-letters/dead-letter-queue.port';
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
}

/**
 * Moves a message to the dead-letter queue when its handler gave up (retries exhausted or a
 * permanent error) and acknowledges it, so that it never blocks its stream. Deferred errors pass
 * through (the transport redelivers). If storing the dead letter fails, the error propagates and
 * the message stays unacknowledged: nothing is lost. Place it OUTSIDE retry.
 */
export function deadLetter(options: DeadLetterOptions): Middleware {
  const classify = options.classify ?? classifyError;
  return (next, info) => async (delivery) => {
    try {
      return await next(delivery);
    } catch (error) {
      const exhausted = error instanceof RetriesExhaustedError;
      if (!exhausted && classify(error) !== 'permanent') throw error;
      const cause = exhausted ? error.lastError : error;
      const reason = (cause as Error)?.message ?? String(cause);
      const letterId = await options.queue.add({
        envelope: delivery.envelope,
        originalTopic: delivery.topic,
        position: delivery.position,
        group: delivery.group,
        handler: info.name,
        reason,
        errorName: (cause as Error)?.name ?? 'Error',
        stack: (cause as Error)?.stack,
        attempts: exhausted ? error.attempts : 1,
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
