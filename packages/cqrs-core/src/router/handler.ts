import { type Delivery } from '../transport/transport.port';

/** Handles one delivery; resolving acknowledges it. The value is the handler's result (command replies). */
export type Handler = (delivery: Delivery) => Promise<unknown>;

/** Facts about the handler a middleware wraps, for metrics, breakers and dead letters. */
export interface HandlerInfo {
  /** Unique per router; part of the consumer group name: renaming it re-consumes every message. */
  readonly name: string;
  readonly topics: readonly string[];
  readonly group: string;
  /**
   * A fan-out handler's fanOutReplayTarget (`<service>.<name>.*`): its dead letters' replays
   * name it, so that every instance running then handles them, not only the (likely gone)
   * instance whose group gave up. Unset for other handlers: their replays name `group`.
   */
  readonly replayFor?: string;
  /** Set from the registration: see HandlerRegistration.idempotent. */
  readonly idempotent?: boolean;
}

/** Wraps a handler (Watermill's `func(h HandlerFunc) HandlerFunc`). Built once per handler. */
export type Middleware = (next: Handler, handler: HandlerInfo) => Handler;

/** Composes middleware so that the first runs outermost: compose([a, b])(h) = a(b(h)). */
export function compose(
  middleware: readonly Middleware[],
  handler: Handler,
  info: HandlerInfo,
): Handler {
  return middleware.reduceRight<Handler>((next, wrap) => wrap(next, info), handler);
}

/**
 * Marks a handler's result as not settling its message: the deduplicator releases its claim
 * instead of recording the message as handled, so a redelivery (or the same message sent again)
 * runs the handler again. For outcomes that changed nothing and whose answer a sender waits
 * for — a command's Refusal — which a deduplicator would otherwise turn into "already handled"
 * (an empty success) on the next delivery.
 */
export const UNSETTLED: unique symbol = Symbol('causeway.unsettled');

/** Whether a handler's result is marked UNSETTLED. */
export function isUnsettled(result: unknown): boolean {
  return typeof result === 'object' && result !== null && UNSETTLED in result;
}
