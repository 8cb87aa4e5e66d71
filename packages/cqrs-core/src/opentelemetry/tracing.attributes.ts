import { type Attributes, type Span, SpanStatusCode } from '@opentelemetry/api';
import { type Envelope } from '../messages/envelope';

/** Who reports spans: the instrumentation scope's name. */
export const TRACER_NAME = '@causeway/cqrs-core';

/**
 * Span attributes of one message, after OpenTelemetry's messaging semantic conventions
 * (`messaging.*`), plus Causeway's own (`causeway.*`).
 */
export function messageAttributes(
  envelope: Envelope,
  system: string | undefined,
  topic: string,
): Attributes {
  return {
    ...(system !== undefined && { 'messaging.system': system }),
    'messaging.destination.name': topic,
    'messaging.message.id': envelope.messageId,
    ...(envelope.metadata.correlationId !== undefined && {
      'messaging.message.conversation_id': envelope.metadata.correlationId,
    }),
    'causeway.message.type': envelope.type,
    ...(envelope.aggregateId !== '' && { 'causeway.aggregate.id': envelope.aggregateId }),
  };
}

/** `Name: message` of an error, for span statuses and attributes. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Marks `span` failed by `error`: status ERROR, the exception recorded. */
export function failSpan(span: Span, error: unknown): void {
  span.recordException(error as Error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(error) });
}
