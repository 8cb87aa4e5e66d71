import { AsyncLocalStorage } from 'node:async_hooks';
import { type Envelope } from './envelope';

const storage = new AsyncLocalStorage<Envelope>();

/**
 * Runs `fn` as the handling of `envelope`: every message created inside it (also after awaits,
 * in timers and in promises started from it) gets `causationId = envelope.messageId` and
 * `correlationId = envelope.metadata.correlationId ?? envelope.messageId` (see createMessage).
 *
 * Buses and routers call this around each handler; application code rarely needs to.
 * Contexts nest: the innermost envelope wins. Work started inside `fn` that outlives it
 * (a fire-and-forget promise) still sees this envelope as its cause.
 */
export function runInMessageContext<T>(envelope: Envelope, fn: () => T): T {
  return storage.run(envelope, fn);
}

/** The message being handled in the current async context, if any. */
export function currentMessage(): Envelope | undefined {
  return storage.getStore();
}

const deliveries = new AsyncLocalStorage<Envelope>();

/**
 * Runs `fn` as the delivery of `envelope` through a router's whole handler chain, middleware
 * included: what it logs names the message (log.fields), while messages created in it take
 * their cause only from runInMessageContext (the handler's), as before.
 */
export function runInDeliveryContext<T>(envelope: Envelope, fn: () => T): T {
  // Not the message whose handler started this delivery (an in-memory publish, a subscription
  // started lazily in a handler): its context would name, and cause, what this one does.
  return storage.exit(() => deliveries.run(envelope, fn));
}

/** The message being handled, or whose delivery a middleware is handling, if any. */
export function currentDelivery(): Envelope | undefined {
  return storage.getStore() ?? deliveries.getStore();
}
