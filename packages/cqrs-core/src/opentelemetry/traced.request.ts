import {
  type Attributes,
  context,
  propagation,
  type Span,
  SpanKind,
  type TextMapGetter,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { runInTraceContext } from '../messages/trace-context';
import { failSpan, TRACER_NAME } from './tracing.attributes';

type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

/** Reads propagation headers as node:http gives them (lower-case names; repeated ones as arrays). */
const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => {
    const value = headers[key.toLowerCase()];
    return typeof value === 'string' ? value : value?.join(',');
  },
};

/**
 * Runs `handle` as the handling of an incoming request (S1-10): a SERVER span `name` (e.g.
 * `POST /api/trainers/{id}/move`), child of the trace context in the request's headers
 * (`traceparent`), in whose context the messages `handle` sends are created and sent — so
 * with `TracedPublisher` the request, its commands and everything they cause are one trace.
 * Without an OpenTelemetry SDK the span records nothing and the messages still carry the
 * caller's trace context (`runInTraceContext`).
 *
 * `handle` gets the span to add what it learns (the response status, say). An error it throws
 * marks the span ERROR; an answer that is a refusal (a 4xx) is not an error of the server: set
 * the status yourself for 5xx answers you return.
 */
export async function traceRequest<T>(
  name: string,
  headers: Headers,
  handle: (span: Span) => Promise<T>,
  options: { tracer?: Tracer; attributes?: Attributes } = {},
): Promise<T> {
  const tracer = options.tracer ?? trace.getTracer(TRACER_NAME);
  const parent = propagation.extract(context.active(), headers, headerGetter);
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);
  if (span.isRecording() && options.attributes) span.setAttributes(options.attributes);
  try {
    return await context.with(trace.setSpan(parent, span), () =>
      runInTraceContext(headers, () => handle(span)),
    );
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}
