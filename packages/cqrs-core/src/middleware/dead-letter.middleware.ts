import { shownValue } from '../config/shown-value';
import { type DeadLetterQueue } from '../dead-letters/dead-letter-queue.port';
import { type Envelope } from '../messages/envelope';
import { stackWithCauses } from '../messages/error.causes';
import { errorNameOf } from '../messages/error.name';
import { type Middleware } from '../router/handler';
import {
  classifyError,
  RetriesExhaustedError,
  takeAttempts,
  type ErrorDisposition,
} from '../router/handler.errors';
import { throttledWarning } from '../router/throttled.warning';

/**
 * A letter's reason: always text, which its `reason` filter searches. A thrown non-Error may
 * carry any `message` (`{ message: { code: 503 } }` from a client library): JSON then.
 */
function reasonOf(cause: unknown): string {
  const message = (cause as { message?: unknown } | null | undefined)?.message;
  if (typeof message === 'string') return message;
  const value = message ?? cause;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The `type` of the process warning `warnOfDeadLetters` emits. */
export const DEAD_LETTER_WARNING = 'CausewayDeadLetterWarning';

/** A message the dead-letter middleware moved to its queue. */
export interface DeadLetterEvent {
  /** The handler's registration name. */
  handler: string;
  topic: string;
  type: string;
  reason: string;
  /**
   * Empty for poison that is not an envelope (poisonToDeadLetters: its type is then
   * `(undecodable)`).
   */
  messageId: string;
  group: string;
  /** The letter's id in the queue (replay and purge take it). */
  letterId: string;
  attempts: number;
}

/**
 * deadLetter's default `onDeadLetter`: a process warning for the first dead letter of each
 * handler, then at most one every 10 s per handler counting those it left out. The letter is
 * kept either way; the warning is how an operator learns there is one to look at.
 */
export function warnOfDeadLetters(): (event: DeadLetterEvent) => void {
  const warn = throttledWarning({ type: DEAD_LETTER_WARNING, code: 'CAUSEWAY_DEAD_LETTERED' });
  return (event) =>
    warn(
      event.handler,
      `${event.type}${event.messageId ? ` ${event.messageId}` : ''} on ${event.topic} ` +
        `dead-lettered by handler ` +
        `${event.handler} (group ${event.group}) after ${event.attempts} attempt(s): ` +
        `${event.reason}. Letter ${event.letterId}: list, replay or purge it with the ` +
        'dead-letter admin API or CLI',
    );
}

/**
 * `envelope` as its dead letter keeps it: the metadata's `retryCount` (the retries made before
 * it was given up on) and `maxRetries` (the retries allowed, when a limit ran out) say so, as the
 * envelope's contract (S1-2) has them; a replay resets `retryCount` to 0. A copy: the delivered
 * envelope is left as it was.
 */
function withRetries(envelope: Envelope, retryCount: number, maxRetries: number | undefined) {
  // A replayed letter's envelope still has the limit of its first life: not this one's.
  const { maxRetries: _previous, ...metadata } = envelope.metadata;
  return {
    ...envelope,
    metadata: { ...metadata, retryCount, ...(maxRetries !== undefined && { maxRetries }) },
  };
}

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
  /**
   * Called after a message was stored as a dead letter. Default: warnOfDeadLetters(), a
   * rate-limited process warning. Errors it throws are ignored (the letter is stored).
   */
  onDeadLetter?: (event: DeadLetterEvent) => void;
  /**
   * Dead-letter, without running the handler, a message the transport delivers for the
   * `maxDeliveries + 1`-th time (its `delivery.attempt`, which survives crashes on Redis Streams
   * and Kafka): one whose handler keeps killing its consumer, so that it never reaches retry's
   * give-up. Off by default. Deferred deliveries (an open breaker) count too: set it well above
   * the redeliveries a long outage can cause. A positive integer (checkMaxDeliveries).
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
 * Checks DeadLetterOptions.maxDeliveries, when given: a positive integer. 0 (or anything below
 * the first delivery's attempt 1) would dead-letter every message unhandled; NaN would never
 * catch a crashing one.
 * @throws TypeError when it is not a number, RangeError when it is not a positive integer; both
 *   name the option and the value given
 */
export function checkMaxDeliveries(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number')
    throw new TypeError(`${name} must be a positive integer, got ${shownValue(value)}`);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
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
  checkMaxDeliveries('deadLetter: maxDeliveries', maxDeliveries);
  const onDeadLetter = options.onDeadLetter ?? warnOfDeadLetters();
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
      const reason = reasonOf(cause);
      // A permanent error: 1, or the attempts retry made before it (transient failures first).
      const attempts = exhausted
        ? error.attempts
        : crashing
          ? error.deliveries
          : (takeAttempts(error) ?? 1);
      // The limit that ran out, in retries: retry's attempts, or maxDeliveries; none for a
      // permanent error, which is never retried.
      const maxRetries = exhausted
        ? error.attempts - 1
        : crashing
          ? error.maxDeliveries - 1
          : undefined;
      const letterId = await options.queue.add({
        envelope: withRetries(delivery.envelope, attempts - 1, maxRetries),
        originalTopic: delivery.topic,
        position: delivery.position,
        group: delivery.group,
        ...(info.replayFor && { replayFor: info.replayFor }),
        handler: info.name,
        reason,
        // The name the command's sender gets too (CommandRejectedError.remoteName).
        errorName: errorNameOf(cause),
        // With the causes: a wrapper's own stack leaves out the error it wraps.
        stack: stackWithCauses(cause),
        attempts,
        deadLetteredAt: new Date().toISOString(),
      });
      try {
        onDeadLetter({
          handler: info.name,
          topic: delivery.topic,
          type: delivery.envelope.type,
          reason,
          messageId: delivery.envelope.messageId,
          group: delivery.group,
          letterId,
          attempts,
        });
      } catch {
        // The letter is stored: a failing report must not have the message dead-lettered again.
      }
      return new DeadLettered(letterId, cause);
    }
  };
}
