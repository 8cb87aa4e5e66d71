import { shownValue } from '../config/shown-value';
import { type z } from 'zod';
import { type DomainEvent, withSchemaVersion } from '../domain/domain-event';
import { type Envelope } from './envelope';
import { type MessageTypeOptions } from './serializer.registry';

/**
 * A message type as one value: its name, its zod schema and its current schema version, with the
 * data type inferred from the schema (ADR 012). Pass it wherever a type name goes — the
 * serializer registry, the message factory, `EventBus.on`, `CommandBus.handle`, the Nest
 * decorators — and the compiler checks the data you create and types the data your handlers
 * receive; a list of types gives handlers a union they can narrow with `switch (event.type)`.
 *
 * The name is the wire name: it selects the schema, the upcasters and the topic, exactly as the
 * string did. Type names and `MessageType`s mix freely (a producer may keep strings).
 *
 * The data type is the schema's *output*: what the registry stores and what handlers see. The
 * factory asks for the same type, so a message is created in the shape it will be read in.
 *
 * A command type may declare its result (`{ result: schema }`). The result crosses the wire as
 * JSON: its handler answers the schema's *input* (`MessageResultInput`), the handling bus checks
 * the answer's JSON form against the schema and sends that JSON, and the requesting bus parses it
 * into the schema's *output* (`MessageResult`), once — what `CommandBus.request` resolves with.
 * So the schema's input must be what JSON carries: a Date is sent as its ISO string, declare it
 * `z.coerce.date()` (or `z.iso.datetime()` to keep the string). The compiler refuses a handler
 * that answers another shape, and a request resolves to the output type without a hand-written
 * generic (see CommandResultInvalidError for the run-time checks).
 *
 * @typeParam Type the name, a string literal
 * @typeParam Data the schema's output type
 * @typeParam Result the result schema's output type; `unknown` when the type declares none
 * @typeParam ResultInput the result schema's input type (what the handler answers); defaults to
 *   `Result`
 */
export interface MessageType<
  Type extends string = string,
  Data = unknown,
  Result = unknown,
  ResultInput = Result,
> {
  readonly type: Type;
  readonly schema: z.core.$ZodType<Data>;
  /** Current schema version (default 1); older data is upcast on read. */
  readonly version: number;
  /**
   * Commands: the schema of what the handler answers (`MessageTypeOptions.result`); undefined
   * when the type declares no result (a handler may then answer anything, unchecked).
   */
  readonly result?: z.core.$ZodType<Result, ResultInput>;
  /**
   * Whether `message` (an envelope, a domain event, anything with a `type`) is of this type; it
   * narrows `data` too. It checks the name only: a registry-read message was validated already.
   */
  is<M extends { readonly type: string }>(message: M): message is M & MessageOf<Type, Data>;
  /** A domain event of this type, for `decide` and `apply`: `DepositMade.of({ amount: 10 })`. */
  of(data: Data, metadata?: Readonly<Record<string, unknown>>): DomainEvent<Type, Data>;
}

/** The part of a message that `MessageType.is` establishes. */
interface MessageOf<Type extends string, Data> {
  readonly type: Type;
  readonly data: Data;
}

/**
 * Defines a message type: `const DepositMade = messageType('DepositMade', z.object({ … }))`.
 * Register it with `SerializerRegistry.register(DepositMade)`; the registry then validates its
 * data on the way in and out as with `register(name, schema)`.
 * A command type may declare its result: `messageType('Deposit', schema, { result:
 * z.object({ balance: z.number() }) })` — see {@link MessageType}.
 * @throws TypeError when the name is empty, the version is not a positive integer, or
 *   `result` is not a zod schema
 */
export function messageType<
  const Type extends string,
  Schema extends z.core.$ZodType,
  ResultSchema extends z.core.$ZodType,
>(
  type: Type,
  schema: Schema,
  options: MessageTypeOptions & { result: ResultSchema },
): MessageType<
  Type,
  z.core.output<Schema>,
  z.core.output<ResultSchema>,
  z.core.input<ResultSchema>
>;
export function messageType<const Type extends string, Schema extends z.core.$ZodType>(
  type: Type,
  schema: Schema,
  options?: MessageTypeOptions,
): MessageType<Type, z.core.output<Schema>>;
export function messageType<const Type extends string, Schema extends z.core.$ZodType>(
  type: Type,
  schema: Schema,
  options: MessageTypeOptions = {},
): MessageType<Type, z.core.output<Schema>, unknown> {
  if (typeof type !== 'string' || type.length === 0)
    throw new TypeError(
      `messageType: the name must be a non-empty string, got ${shownValue(type)}`,
    );
  const version = options.version ?? 1;
  if (!Number.isInteger(version) || version < 1)
    throw new TypeError(
      `messageType(${type}): version must be a positive integer, got ${shownValue(version)}`,
    );
  assertSchema(`messageType(${type}): the schema`, schema);
  const result = options.result;
  if (result !== undefined) assertSchema(`messageType(${type}): result`, result);
  return Object.freeze({
    type,
    schema: schema as z.core.$ZodType<z.core.output<Schema>>,
    version,
    ...(result !== undefined && { result }),
    is<M extends { readonly type: string }>(
      message: M,
    ): message is M & MessageOf<Type, z.core.output<Schema>> {
      return message?.type === type;
    },
    of(data: z.core.output<Schema>, metadata?: Readonly<Record<string, unknown>>) {
      // The version goes with the event: a repository over a store without a registry writes
      // it in this version, not as version 1 (which an upcaster would then rewrite on read).
      return withSchemaVersion(
        metadata === undefined ? { type, data } : { type, data, metadata },
        version,
      );
    },
  });
}

/** Whether `value` is a zod 4 schema (classic or mini: both carry `_zod`). */
export function isSchema(value: unknown): value is z.core.$ZodType {
  return typeof value === 'object' && value !== null && '_zod' in value;
}

/**
 * Refuses what is not a zod 4 schema, where it is given rather than at the first parse (which
 * would fail deep inside zod). A zod 3 schema (`_def` but no `_zod`) is the likely one: an
 * application on zod 3 passes its schemas to a library built on zod 4.
 * @throws TypeError naming `where`, and how to get a zod 4 schema when it is a zod 3 one
 */
export function assertSchema(where: string, value: unknown): asserts value is z.core.$ZodType {
  if (isSchema(value)) return;
  const zod3 = typeof value === 'object' && value !== null && '_def' in value;
  throw new TypeError(
    zod3
      ? `${where} must be a zod 4 schema, got a zod 3 one: install zod 4 (a peer dependency of @causeway/cqrs-core), or import { z } from 'zod/v4' with zod 3.25`
      : `${where} must be a zod schema (z.object({ … })), got ${shownValue(value)}`,
  );
}

/** Whether `value` is a {@link MessageType} (and not a type name). */
export function isMessageType(value: unknown): value is MessageType {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as MessageType).type === 'string' &&
    typeof (value as MessageType).is === 'function' &&
    'schema' in value
  );
}

/** The data type of a message type: `MessageData<typeof DepositMade>`. */
export type MessageData<M extends MessageType> =
  M extends MessageType<string, infer Data> ? Data : never;

/**
 * The result a command type declares (`messageType(…, { result })`), as its schema's output:
 * what `CommandBus.request` resolves with — `MessageResult<typeof Deposit>`; `unknown` for a
 * type that declares none (and for a union holding one).
 */
export type MessageResult<M extends MessageType> =
  M extends MessageType<string, unknown, infer Result, unknown> ? Result : never;

/**
 * What a handler of `M` answers: the input of the result schema `M` declares (the output may
 * differ, e.g. after a transform; the requester parses the answer into it). Of a union — a
 * handler of several types answers one type for all of them, as TypeScript does not relate a
 * branch's answer to the type it narrowed — the union of the results the types declare: a type
 * that declares none adds nothing (its branch answers something in that union too, or declares
 * its own result); `unknown` (anything) only when none declares one.
 */
export type MessageResultInput<M extends MessageType> = [DeclaredInput<M>] extends [never]
  ? unknown
  : DeclaredInput<M>;
type DeclaredInput<M> =
  M extends MessageType<string, unknown, unknown, infer Input>
    ? unknown extends Input
      ? never
      : Input
    : never;

/**
 * The envelope of a message type; of a union of types, the union of their envelopes, which
 * `switch (envelope.type)` narrows: `EnvelopeOf<typeof DepositMade | typeof WithdrawalMade>`.
 */
export type EnvelopeOf<M extends MessageType> =
  M extends MessageType<infer Type, infer Data> ? Envelope<Data, Type> : never;

/** The domain event of a message type, or the union for a union: for deciders and aggregates. */
export type DomainEventOf<M extends MessageType> =
  M extends MessageType<infer Type, infer Data> ? DomainEvent<Type, Data> : never;

/**
 * The command of a message type as a decider's `decide` takes it (`{ type, data }`), or the
 * union for a union: `CommandOf<typeof OpenAccount | typeof Deposit>`. The same shape as
 * DomainEventOf, named for what it is.
 */
export type CommandOf<M extends MessageType> = DomainEventOf<M>;

/** A type name, or a message type, or a list of either: what the buses and decorators take. */
export type MessageTypes = string | MessageType | readonly (string | MessageType)[];

/**
 * The message types among `Types` (a name, a message type or a list of either), names left out:
 * `MessageResultInput<MessageTypesIn<typeof types>>` is what a handler of a mixed list answers.
 */
export type MessageTypesIn<Types extends MessageTypes> = Extract<
  Types extends readonly (infer Each)[] ? Each : Types,
  MessageType
>;

/**
 * The name of a type given by name or as a message type: what a type filter of a store or a
 * projection (`types: ['MoneyDeposited']` or `types: [MoneyDeposited]`) matches.
 */
export function typeNameOf(type: string | MessageType): string {
  return isMessageType(type) ? type.type : type;
}

/** The names of `types`, in order, without repeats. */
export function typeNamesOf(types: MessageTypes): string[] {
  const list: unknown[] =
    typeof types === 'string' || isMessageType(types)
      ? [types]
      : Array.isArray(types)
        ? [...(types as unknown[])]
        : [types];
  const names = list.map((entry) => {
    if (typeof entry === 'string' && entry.length > 0) return entry;
    if (isMessageType(entry)) return entry.type;
    throw new TypeError(
      `expected a message type name or a messageType(…), got ${typeof entry === 'string' ? '""' : String(entry)}`,
    );
  });
  return [...new Set(names)];
}
