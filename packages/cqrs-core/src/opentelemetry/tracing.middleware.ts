import { context, SpanKind, trace, type Tracer } from '@opentelemetry/api';
import { Refusal } from '../buses/command-bus';
import { DeadLettered } from '../middleware/dead-letter.middleware';
import { classifyError } from '../router/handler.errors';
import { type Middleware } from '../router/handler';
import { contextOf, withContext } from './metadata.carrier';
import { failSpan, messageAttributes, messageOf, TRACER_NAME } from './tracing.attributes';

export interface TracingOptions {
  /** Default: the global tracer provider's tracer named `@causeway/cqrs-core`. */
  tracer?: Tracer;
  /** `messaging.system` of the spans, e.g. `redis`, `kafka`. Default: not set. */
  system?: string;
}

/**
 * Traces every delivery with OpenTelemetry (S1-10): a CONSUMER span `process <topic>`, child
 * of the context the message carries (its `traceparent`), so a conversation across services is
 * one trace. The handler, and the middleware inside this one, run in the span's context: spans
 * of instrumented drivers nest under it, and messages the handler creates (MessageFactory)
 * carry the span as their parent.
 *
 * The span records the attempt (`causeway.attempt`), the handler and group, and the outcome:
 * an error (status ERROR with the exception), a dead-lettered message (ERROR), a refused
 * command (`causeway.outcome` = `refused`, status unset: the refusal is an answer), a deferred
 * delivery (`deferred`, status unset: it comes back later). Place it first (outermost): the
 * span then covers the delivery's in-process retries (its duration includes them). Without an OpenTelemetry SDK
 * registered, spans are not recorded and messages keep the trace context they came with.
 */
export function tracing(options: TracingOptions = {}): Middleware {
  return (next, info) => async (delivery) => {
    const tracer = options.tracer ?? trace.getTracer(TRACER_NAME);
    const parent = contextOf(delivery.envelope, context.active());
    const span = tracer.startSpan(`process ${delivery.topic}`, { kind: SpanKind.CONSUMER }, parent);
    // Without an SDK (or when not sampled) the span records nothing: spare building attributes.
    if (span.isRecording())
      span.setAttributes({
        ...messageAttributes(delivery.envelope, options.system, delivery.topic),
        'messaging.operation.type': 'process',
        'messaging.consumer.group.name': delivery.group,
        'causeway.handler': info.name,
        'causeway.attempt': delivery.attempt,
      });
    const active = trace.setSpan(parent, span);
    // The handler sees the message as sent, its metadata naming this span as the parent.
    const traced = { ...delivery, envelope: withContext(delivery.envelope, active) };
    try {
      const result = await context.with(active, () => next(traced));
      if (result instanceof DeadLettered) {
        span.setAttribute('causeway.outcome', 'dead-lettered');
        failSpan(span, result.error);
      } else if (result instanceof Refusal) {
        span.setAttribute('causeway.outcome', 'refused');
        span.setAttribute('causeway.refusal', (result.error as Error).name);
      } else span.setAttribute('causeway.outcome', 'success');
      return result;
    } catch (error) {
      // Deferred (in flight elsewhere, breaker open, not ready): flow control, redelivered later.
      if (classifyError(error) === 'deferred') {
        span.setAttribute('causeway.outcome', 'deferred');
        span.setAttribute('causeway.deferred', messageOf(error));
        throw error;
      }
      span.setAttribute('causeway.outcome', 'failed');
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  };
}
