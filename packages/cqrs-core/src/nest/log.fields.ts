import { currentDelivery } from '../messages/message-context';
import { currentTraceContext, traceContextOf } from '../messages/trace-context';

/** What log.fields adds to a log line written while a message is handled. */
export interface MessageLogFields {
  /** The message being handled: its id, type and conversation. */
  messageId?: string;
  messageType?: string;
  correlationId?: string;
  /**
   * The W3C trace id (32 hex digits) of the message's trace context, else of the request's
   * (`runInTraceContext`): OpenTelemetry's name for it in logs, so a log backend links the line
   * to its trace.
   */
  trace_id?: string;
}

/**
 * The fields of the current async context for a log line (pino's `mixin`, as
 * CausewayServiceModule's logger uses it): while a router delivers a message (its handler and
 * every middleware around it) the message's id, type, correlation id and trace id; in a
 * request run in a trace context, its trace id; else none. So every line a handler logs — a
 * warning, a rejection, an error — names the message and joins its trace, without the handler
 * passing them.
 */
export function messageLogFields(): MessageLogFields {
  const message = currentDelivery();
  const trace = message ? traceContextOf(message.metadata) : currentTraceContext();
  const trace_id = trace?.traceparent.slice(3, 35);
  if (!message) return trace_id ? { trace_id } : {};
  return {
    messageId: message.messageId,
    messageType: message.type,
    correlationId: message.metadata.correlationId ?? message.messageId,
    ...(trace_id && { trace_id }),
  };
}
