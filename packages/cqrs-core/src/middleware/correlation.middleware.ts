import { runInMessageContext } from '../messages/message-context';
import { type Middleware } from '../router/handler';

/**
 * Runs the handler in the context of the delivered message, so that every message it creates
 * (MessageFactory) carries causationId = this message's id and its correlationId — the trace
 * of a conversation across services (S1-10). The Router does this for every handler by itself;
 * use this middleware to give middleware placed inside it the same context.
 */
export function correlation(): Middleware {
  return (next) => (delivery) => runInMessageContext(delivery.envelope, () => next(delivery));
}
