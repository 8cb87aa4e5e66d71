/**
 * One envelope for commands and events (S1-2). Everything a transport, a store or a handler
 * needs to know about a message travels here; `data` is the message body, validated against the
 * schema registered for `type` (see the serializer registry).
 */
export interface Envelope<Data = unknown, Type extends string = string> {
  /** uuid v4, unique per message; the idempotency key of appends and deliveries. */
  readonly messageId: string;
  /** Message type name, e.g. `TrainerMovedEvent`; selects schema, upcasters and topic. */
  readonly type: Type;
  /** The aggregate (stream) this message belongs to; also the partition/order key on buses. */
  readonly aggregateId: string;
  readonly aggregateType: string;
  /**
   * Revision of the event in its stream (1-based) once stored; 0 for messages that are not
   * stored in a stream (commands, notifications).
   */
  readonly version: number;
  readonly data: Data;
  readonly metadata: Metadata;
}

export type Priority = 'critical' | 'high' | 'normal' | 'low';
export type MessageCategory = 'command' | 'event' | 'query' | 'notification' | (string & {});

/** Metadata of an envelope; open to extra keys (tenant, traceparent, …). */
export interface Metadata {
  /** Who issued the message (user id, service name). */
  readonly issuerId?: string;
  readonly issuerType?: 'user' | 'service' | 'system' | (string & {});
  /** messageId of the message whose handling produced this one. */
  readonly causationId?: string;
  /** Shared by every message of one conversation; the first message's messageId by default. */
  readonly correlationId?: string;
  readonly category?: MessageCategory;
  readonly priority?: Priority;
  /** ISO-8601 time the message was created. */
  readonly timestamp: string;
  /** `sha256:<hex>` of the serialized data; verified on read. */
  readonly checksum?: string;
  /**
   * On a dead letter's envelope (the deadLetter middleware): how often its handler was retried
   * before it gave up, 0 for a permanent error. A replay publishes it with 0. Retries are made in
   * process, so a message in flight does not carry it (its handler reads `Delivery.attempt`).
   */
  readonly retryCount?: number;
  /**
   * On a dead letter's envelope: the retries its handler was allowed (retry's `maxAttempts` - 1,
   * or deadLetter's `maxDeliveries` - 1) when that limit ran out; absent for a permanent error.
   */
  readonly maxRetries?: number;
  /** Version of `data`'s schema for `type`; upcasters lift old versions on read. Default 1. */
  readonly schemaVersion?: number;
  /**
   * Commands: the ISO-8601 time after which the command must not be handled (like a gRPC
   * deadline). The receiving CommandBus refuses it unhandled once the deadline has passed by its
   * own clock (plus `CommandBusOptions.clockSkewMs`): CommandExpiredError. Set it with
   * `CommandBus.send` / `request`'s `deadlineMs`; absent, the command never expires.
   */
  readonly deadline?: string;
  readonly [key: string]: unknown;
}

/** Type-level only: the key of the phantom result type on a {@link CommandEnvelope}. */
declare const answers: unique symbol;

/**
 * A command envelope whose type declares its result (`messageType(…, { result })`), as
 * `MessageFactory.command` returns it: `CommandBus.request(command)` resolves to `Result`
 * without a hand-written generic. At run time it is a plain envelope: the result type is for
 * the compiler only (a phantom), so spreading or serializing it changes nothing.
 */
export interface CommandEnvelope<
  Data = unknown,
  Type extends string = string,
  Result = unknown,
> extends Envelope<Data, Type> {
  /** Never set: carries the result type for the compiler. */
  readonly [answers]?: Result;
}
