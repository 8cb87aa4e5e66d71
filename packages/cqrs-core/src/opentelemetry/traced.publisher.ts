import { context, SpanKind, trace } from '@opentelemetry/api';
import { type Envelope } from '../messages/envelope';
import { traceContextOf } from '../messages/trace-context';
import { type RawPublisher } from '../dead-letters/dead-letter-queue.port';
import { type Publisher } from '../transport/transport.port';
import { withContext } from './metadata.carrier';
import { failSpan, messageAttributes, TRACER_NAME } from './tracing.attributes';
import { type TracingOptions } from './tracing.middleware';

/**
 * A Publisher that traces what it sends (S1-10): a PRODUCER span `send <topic>` per publish,
 * whose context is written into each message's metadata (`traceparent`, `tracestate`), so the
 * consumer's span (see `tracing`) is its child.
 *
 * Inside a span (an HTTP request, a handler traced by `tracing`) the send span is its child
 * and every message is re-parented to it. Outside any span, messages that already carry a
 * trace context — the events an outbox forwards long after they were created inside a handler —
 * are sent as they are (their trace goes on from where they were created); the others get a
 * new trace from the send span.
 */
export class TracedPublisher implements Publisher {
  /**
   * The inner publisher's publishRaw (a dead letter's replay of text no one could decode),
   * untraced: there is no envelope to carry a trace context. Absent when the inner has none.
   */
  readonly publishRaw?: RawPublisher['publishRaw'];

  constructor(
    private readonly inner: Publisher,
    private readonly options: TracingOptions = {},
  ) {
    const raw = (inner as Partial<RawPublisher>).publishRaw;
    if (typeof raw === 'function') this.publishRaw = raw.bind(inner);
  }

  async publish(topic: string, messages: readonly Envelope[]): Promise<void> {
    const active = context.active();
    const inSpan = trace.getSpan(active) !== undefined;
    const untraced = inSpan ? messages : messages.filter((m) => !traceContextOf(m.metadata));
    if (untraced.length === 0) return this.inner.publish(topic, messages);
    const tracer = this.options.tracer ?? trace.getTracer(TRACER_NAME);
    const span = tracer.startSpan(
      `send ${topic}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          ...(untraced.length === 1
            ? messageAttributes(untraced[0]!, this.options.system, topic)
            : {
                ...(this.options.system !== undefined && {
                  'messaging.system': this.options.system,
                }),
                'messaging.destination.name': topic,
                'messaging.batch.message_count': untraced.length,
              }),
          'messaging.operation.type': 'send',
        },
      },
      active,
    );
    const sending = trace.setSpan(active, span);
    const set = new Set(untraced);
    const sent = messages.map((m) => (set.has(m) ? withContext(m, sending) : m));
    try {
      await context.with(sending, () => this.inner.publish(topic, sent));
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
