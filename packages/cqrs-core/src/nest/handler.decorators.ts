import { SetMetadata } from '@nestjs/common';

export const COMMAND_HANDLER = Symbol('causeway:command-handler');
export const EVENT_HANDLER = Symbol('causeway:event-handler');
export const QUERY_HANDLER = Symbol('causeway:query-handler');

export interface EventHandlerMetadata {
  types: readonly string[];
  /** Consumer group name within the service; default the class name. Renaming re-consumes every event. */
  name?: string;
  /** 'competing' (default) or 'fan-out' (every instance). */
  mode?: 'competing' | 'fan-out';
  maxInFlight?: number;
  /** Idempotent by itself: the deduplicator leaves its deliveries alone (HandlerRegistration.idempotent). */
  idempotent?: boolean;
}

/** Marks a provider whose `execute(command, delivery)` handles the command type (exactly one per type). */
export const CommandHandler = (type: string): ClassDecorator => SetMetadata(COMMAND_HANDLER, type);

/** Marks a provider whose `handle(event, delivery)` handles the event types. */
export const EventHandler = (
  types: string | readonly string[],
  options: Omit<EventHandlerMetadata, 'types'> = {},
): ClassDecorator =>
  SetMetadata(EVENT_HANDLER, {
    ...options,
    types: typeof types === 'string' ? [types] : types,
  } satisfies EventHandlerMetadata);

/** Marks a provider whose `execute(query)` answers the query type. */
export const QueryHandler = (type: string): ClassDecorator => SetMetadata(QUERY_HANDLER, type);
