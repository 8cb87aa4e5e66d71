import { type Attributes } from '@opentelemetry/api';
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
