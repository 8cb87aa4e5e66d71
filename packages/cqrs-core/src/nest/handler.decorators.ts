import { SetMetadata } from '@nestjs/common';
import { type QueryType } from '../buses/query.type';
import { type Envelope } from '../messages/envelope';
import {
  type EnvelopeOf,
  type MessageResultInput,
  type MessageType,
  type MessageTypes,
  type MessageTypesIn,
  typeNamesOf,
} from '../messages/message.type';
import { type Delivery } from '../transport/transport.port';

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
  /**
   * Where its consumer group starts when it is new, as EventHandlerOptions.startFrom:
   * 'earliest' is the default of a competing handler, 'latest' that of a fan-out one. A fan-out
   * handler therefore skips every event published before its group (one per instance id) first
   * subscribed; give 'earliest' for it to read the topic from its earliest retained event. An
   * existing group goes on from where it stopped either way.
   */
  startFrom?: 'earliest' | 'latest';
  /** Idempotent by itself: the deduplicator leaves its deliveries alone (HandlerRegistration.idempotent). */
  idempotent?: boolean;
}

/**
 * What a @CommandHandler class implements (named as in @nestjs/cqrs). `implements
 * ICommandHandler<Envelope<MoveData>, MoveResult>` lets the compiler catch a misspelt or missing
 * `execute`; without it the app refuses to start instead.
 * @typeParam C the command envelope the handler receives
 * @typeParam R what it resolves with: the result `CommandBus.request` resolves with
 */
export interface ICommandHandler<C extends Envelope = Envelope, R = unknown> {
  /** Handles one command; resolving acknowledges it, throwing has it retried then dead-lettered. */
  execute(command: C, delivery: Delivery): Promise<R> | R;
}

/**
 * What an @EventHandler class implements (named as in @nestjs/cqrs). `implements
 * IEventHandler<Envelope<MovedData>>` lets the compiler catch a misspelt or missing `handle`;
 * without it the app refuses to start instead.
 * @typeParam E the event envelope the handler receives (a union when it handles several types)
 */
export interface IEventHandler<E extends Envelope = Envelope> {
  /** Handles one event; resolving acknowledges it, throwing has it retried then dead-lettered. */
  handle(event: E, delivery: Delivery): unknown;
}

/**
 * What a @QueryHandler class implements (named as in @nestjs/cqrs). `implements
 * IQueryHandler<PositionQuery, number>` lets the compiler catch a misspelt or missing
 * `execute`; without it the app refuses to start instead.
 * @typeParam Q the query as passed to `QueryBus.execute(type, query)`
 * @typeParam R what `QueryBus.execute` resolves with
 */
export interface IQueryHandler<Q = unknown, R = unknown> {
  /** Answers one query, in process. */
  execute(query: Q): Promise<R> | R;
}

/**
 * Marks a provider whose `execute(command, delivery)` handles the command type (exactly one per
 * type), or the types that share a topic (TopicNamingOptions.commandTopics: all of a shared
 * topic's types in one class, handled in send order per key); implement {@link ICommandHandler}
 * so the compiler checks that method. A class without `execute` makes the app's start fail,
 * naming the class. With message types, the compiler checks that `execute` takes their
 * envelopes (`EnvelopeOf<typeof Deposit>`) and, of a type that declares its result
 * (`messageType(…, { result })`), that it answers that result's input
 * (`MessageResultInput<typeof Deposit>`; of several types, the union of the results they
 * declare); the CommandBus checks the answer at run time against the result schema the
 * SerializerRegistry has for the type (see `CommandBus.handle`).
 * A provider of a module loaded later by LazyModuleLoader is found only when
 * `HandlersExplorer.registerLoadedHandlers()` is called after the load.
 */
export function CommandHandler<M extends MessageType>(
  types: M | readonly M[],
): <
  Class extends abstract new (
    ...args: never[]
  ) => ICommandHandler<EnvelopeOf<M>, MessageResultInput<M>>,
>(
  target: Class,
) => void;
/** By type name: the compiler checks neither the data nor the answer. */
export function CommandHandler(types: string | readonly string[]): ClassDecorator;
/**
 * Names mixed with message types: the compiler does not check the data; the answer must fit the
 * results the message types among them declare (names add nothing; anything when none does).
 */
export function CommandHandler<const Types extends MessageTypes>(
  types: Types,
): <
  Class extends abstract new (
    ...args: never[]
  ) => ICommandHandler<Envelope, MessageResultInput<MessageTypesIn<Types>>>,
>(
  target: Class,
) => void;
export function CommandHandler(types: MessageTypes): ClassDecorator {
  return SetMetadata(COMMAND_HANDLER, typeNamesOf(types));
}

/**
 * Marks a provider whose `handle(event, delivery)` handles the event types; implement
 * {@link IEventHandler} so the compiler checks that method. A class without `handle` makes the
 * app's start fail, naming the class. With message types, the compiler checks that `handle`
 * takes their envelopes (of several types, the union `EnvelopeOf<typeof A | typeof B>`).
 * A provider of a module loaded later by LazyModuleLoader is found only when
 * `HandlersExplorer.registerLoadedHandlers()` is called after the load.
 */
export function EventHandler<M extends MessageType>(
  types: M | readonly M[],
  options?: Omit<EventHandlerMetadata, 'types'>,
): <Class extends abstract new (...args: never[]) => IEventHandler<EnvelopeOf<M>>>(
  target: Class,
) => void;
/** By type name (or names mixed with message types): the compiler does not check the data. */
export function EventHandler(
  types: MessageTypes,
  options?: Omit<EventHandlerMetadata, 'types'>,
): ClassDecorator;
export function EventHandler(
  types: MessageTypes,
  options: Omit<EventHandlerMetadata, 'types'> = {},
): ClassDecorator {
  return SetMetadata(EVENT_HANDLER, {
    ...options,
    types: typeNamesOf(types),
  } satisfies EventHandlerMetadata);
}

/**
 * Marks a provider whose `execute(query)` answers the query type (exactly one per type);
 * implement {@link IQueryHandler} so the compiler checks that method. A class without `execute`
 * makes the app's start fail, naming the class. With a {@link QueryType}, `execute` gets the
 * parameters its schema parsed when the caller executes with that type.
 * A provider of a module loaded later by LazyModuleLoader is found only when
 * `HandlersExplorer.registerLoadedHandlers()` is called after the load.
 */
export function QueryHandler(type: string): ClassDecorator;
/** With a {@link QueryType}, the compiler checks that the class answers what the type says. */
export function QueryHandler<Params, Result>(
  type: QueryType<string, Params, Result, unknown>,
): <Class extends abstract new (...args: never[]) => IQueryHandler<Params, Result>>(
  target: Class,
) => void;
export function QueryHandler(type: string | QueryType): ClassDecorator {
  return SetMetadata(QUERY_HANDLER, type);
}
