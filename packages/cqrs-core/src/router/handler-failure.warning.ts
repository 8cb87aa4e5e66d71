import { type Delivery } from '../transport/transport.port';
import { causesInOneLine, shownThrown } from '../messages/error.causes';
import { DeferredError } from './handler.errors';
import { throttledWarning } from './throttled.warning';

/** The `type` of the process warning `warnOfHandlerFailures` emits. */
export const HANDLER_FAILURE_WARNING = 'CausewayHandlerWarning';

/** A delivery its handler failed: nothing acknowledged it, so its transport delivers it again. */
export interface HandlerFailure {
  /** The handler's registration name. */
  readonly handler: string;
  readonly delivery: Delivery;
  readonly error: unknown;
}

/**
 * The router's default `onHandlerError`: a process warning for the first failure of each
 * handler, then at most one every 10 s per handler counting those it left out (see
 * throttledWarning). Without it, a handler that throws under a router with no `retry()` and
 * `deadLetter()` would be delivered again and again with nothing said anywhere. A DeferredError
 * (an open circuit breaker, a handler asking to be called later) is a deferral, not a failure:
 * not reported. Payloads are left out: they may be large or hold data that does not belong in
 * logs.
 */
export function warnOfHandlerFailures(): (failure: HandlerFailure) => void {
  const warn = throttledWarning({ type: HANDLER_FAILURE_WARNING, code: 'CAUSEWAY_HANDLER_FAILED' });
  return ({ handler, delivery, error }) => {
    if (error instanceof DeferredError) return;
    const { envelope } = delivery;
    // With its causes: a wrapper's message rarely says what went wrong underneath.
    const reason =
      (error instanceof Error ? `${error.name}: ${error.message}` : shownThrown(error)) +
      causesInOneLine(error);
    warn(
      handler,
      `handler ${handler} failed on ${delivery.topic} (group ${delivery.group}): ` +
        `${envelope.type} ${envelope.messageId} at ${delivery.position}, attempt ` +
        `${delivery.attempt}: ${reason}. It was not acknowledged and will be delivered again; ` +
        'use retry() and deadLetter() middleware to bound the attempts',
    );
  };
}
