import { randomUUID } from 'node:crypto';
import {
  type CommandEnvelope,
  type Envelope,
  type MessageCategory,
  type Metadata,
  type Priority,
} from './envelope';
import { rememberResultSchema } from './command.result-schema';
import { currentMessage } from './message-context';
import { isMessageType, type MessageType } from './message.type';
import { currentTraceContext, traceContextOf } from './trace-context';

export interface CreateMessageInput<Data, Type extends string> {
  /** The type name, or a {@link MessageType}, whose version then is the default schemaVersion. */
  type: Type | MessageType<Type, Data>;
  data: Data;
  category: MessageCategory;
  /** The stream / partition key. Default '' (messages that belong to no aggregate). */
  aggregateId?: string;
  aggregateType?: string;
  /** Default 'normal'. */
  priority?: Priority;
  /**
   * Default: a fresh id (`MessageFactoryOptions.newId`). Give `derivedMessageId(cause, key)`
   * to a message sent in reaction to another, so that sending it again is the same message.
   */
  messageId?: string;
  /**
   * Version of the schema `data` is written in. Default: the `version` of a {@link MessageType}
   * given as the type; 1 for a type name, so a producer of a newer version that passes names
   * must give it here. The serializer registry stamps its registered version when this is equal
   * or lower, and refuses a higher one (UnsupportedSchemaVersionError).
   */
  schemaVersion?: number;
  /**
   * The message whose handling produces this one. Default: the message of the current
   * message context (runInMessageContext). Pass `null` to start a new conversation.
   */
  causedBy?: Envelope | null;
  /**
   * Extra metadata; explicit causationId / correlationId / traceparent here win over the
   * derived ones.
   */
  metadata?: Partial<Metadata>;
}

/** What `command` and `event` take besides the type and the data. */
export type MessageInput<Data, Type extends string> = Omit<
  CreateMessageInput<Data, Type>,
  'type' | 'data' | 'category'
>;

export interface MessageFactoryOptions {
  /** Default `() => new Date()`. Inject a clock for deterministic tests. */
  now?: () => Date;
  /** Default node:crypto randomUUID (uuid v4). */
  newId?: () => string;
  /** Stamped on every message unless the input names another issuer. */
  issuerId?: string;
  issuerType?: Metadata['issuerType'];
}

/**
 * Creates envelopes with ids, timestamps and automatic correlation (S1-2, S1-10):
 * a message created while another is handled is caused by it and joins its conversation.
 */
export class MessageFactory {
  private readonly now: () => Date;
  private readonly newId: () => string;

  constructor(private readonly options: MessageFactoryOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.newId = options.newId ?? randomUUID;
  }

  create<Data, Type extends string>(input: CreateMessageInput<Data, Type>): Envelope<Data, Type> {
    if (
      input.messageId !== undefined &&
      (typeof input.messageId !== 'string' || input.messageId.length === 0)
    )
      throw new TypeError(
        `MessageFactory: messageId must be a non-empty string, got ${JSON.stringify(input.messageId)}`,
      );
    const messageId = input.messageId ?? this.newId();
    const cause = input.causedBy === undefined ? currentMessage() : (input.causedBy ?? undefined);
    // The trace goes on with the conversation (W3C Trace Context, S1-10): the cause's, or
    // that of the request being served (runInTraceContext).
    const derived: Partial<Metadata> = cause
      ? {
          causationId: cause.messageId,
          correlationId: cause.metadata.correlationId ?? cause.messageId,
          ...traceContextOf(cause.metadata),
        }
      : { correlationId: messageId, ...currentTraceContext() };
    const issuer: Partial<Metadata> = {
      ...(this.options.issuerId !== undefined && { issuerId: this.options.issuerId }),
      ...(this.options.issuerType !== undefined && { issuerType: this.options.issuerType }),
    };
    const metadata: Metadata = {
      ...issuer,
      ...derived,
      category: input.category,
      priority: input.priority ?? 'normal',
      schemaVersion: input.schemaVersion ?? versionOf(input.type),
      ...input.metadata,
      timestamp: input.metadata?.timestamp ?? this.now().toISOString(),
    };
    return {
      messageId,
      type: nameOf(input.type),
      aggregateId: input.aggregateId ?? '',
      aggregateType: input.aggregateType ?? '',
      version: 0,
      data: input.data,
      metadata,
    };
  }

  /**
   * A command. With a {@link MessageType} the compiler checks `data` against its schema's type
   * and the envelope is typed, and its schemaVersion defaults to the type's `version`; with a
   * name, `data` is whatever you pass and the schemaVersion defaults to 1. Of a type that
   * declares its result, the envelope carries the result type (the result schema's output):
   * `CommandBus.request` resolves to it, parsing the reply with that schema when the
   * requester's registry has none for the type.
   */
  command<Type extends string, Data, Result, ResultInput>(
    type: MessageType<Type, Data, Result, ResultInput>,
    data: NoInfer<Data>,
    input?: MessageInput<Data, Type>,
  ): unknown extends Result ? Envelope<Data, Type> : CommandEnvelope<Data, Type, Result>;
  command<Data, Type extends string>(
    type: Type,
    data: Data,
    input?: MessageInput<Data, Type>,
  ): Envelope<Data, Type>;
  command(
    type: string | MessageType,
    data: unknown,
    input: MessageInput<unknown, string> = {},
  ): Envelope {
    const command = this.create({ ...input, type, data, category: 'command' });
    // For the requester: its envelope is typed with the result's output whatever its registry.
    if (isMessageType(type) && type.result !== undefined)
      rememberResultSchema(command, type.result);
    return command;
  }

  /** An event; typed as `command` is. */
  event<Type extends string, Data>(
    type: MessageType<Type, Data>,
    data: NoInfer<Data>,
    input?: MessageInput<Data, Type>,
  ): Envelope<Data, Type>;
  event<Data, Type extends string>(
    type: Type,
    data: Data,
    input?: MessageInput<Data, Type>,
  ): Envelope<Data, Type>;
  event(
    type: string | MessageType,
    data: unknown,
    input: MessageInput<unknown, string> = {},
  ): Envelope {
    return this.create({ ...input, type, data, category: 'event' });
  }
}

function nameOf<Type extends string>(type: Type | MessageType<Type>): Type {
  return isMessageType(type) ? type.type : type;
}

/** The schema version a message of `type` is created in unless the input names one. */
function versionOf(type: string | MessageType): number {
  return isMessageType(type) ? type.version : 1;
}

const defaultFactory = new MessageFactory();

/** createMessage with the default factory (system clock, random uuids). */
export function createMessage<Data, Type extends string>(
  input: CreateMessageInput<Data, Type>,
): Envelope<Data, Type> {
  return defaultFactory.create(input);
}
