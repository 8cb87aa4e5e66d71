import { type Envelope, type Metadata } from './envelope';

/** An envelope whose data is serialized; `metadata.checksum` and `metadata.schemaVersion` are set. */
export interface SerializedEnvelope extends Omit<Envelope, 'data' | 'metadata'> {
  readonly data: string;
  readonly metadata: Metadata & { readonly checksum: string; readonly schemaVersion: number };
}

/** Per-call options of {@link MessageSerializer.serialize}. */
export interface SerializeOptions {
  /**
   * Replaces the serializer's own size limit for this call; `Infinity`: not checked. Transports
   * pass `Infinity` when they encode a message for the wire and check their own limit on the
   * wire form: an event a store accepted gains fields on its way (a TracedPublisher's
   * `traceparent`, `tracestate` and `baggage`), and refusing it then would stop an outbox at it
   * for good.
   */
  readonly maxMessageBytes?: number;
}

/**
 * Turns envelope data into text and back (S1-3). Stores and transports call it at their edge,
 * so handlers only ever see validated data of the current schema version.
 *
 * Implementations must be pure and safe to call concurrently.
 */
export interface MessageSerializer {
  /**
   * Validates `data` against the current schema of `type` and serializes it, stamping
   * `checksum` (`sha256:<hex>` of the serialized data) and `schemaVersion`.
   * @throws UnknownMessageTypeError when the type is not registered (registries that require it)
   * @throws MessageValidationError naming the first offending field
   * @throws MessageTooLargeError when the serialized envelope (data, metadata and ids as JSON
   *   text, what a store keeps and a transport sends) exceeds the configured maximum, or
   *   `options.maxMessageBytes` when given (a serializer with a size limit must honour it)
   * @throws UnsupportedSchemaVersionError when the envelope claims a schema version newer than
   *   the serializer knows (registries): serializing it would drop what the newer schema added
   */
  serialize(envelope: Envelope, options?: SerializeOptions): SerializedEnvelope;
  /**
   * Verifies the checksum, upcasts data written by an older schema version to the current one
   * and validates it.
   * @throws ChecksumMismatchError when the data does not match its checksum
   * @throws UnknownMessageTypeError naming the type when it is not registered
   * @throws MessageValidationError when the (upcast) data does not match the schema
   */
  deserialize(serialized: SerializedEnvelope): Envelope;
  /**
   * Whether `deserialize` knows `type`. Absent on a serializer that takes any type (JSON):
   * then nothing can be told before a message comes.
   */
  has?(type: string): boolean;
  /**
   * Every name that data of `type` may be stored or sent under, the current name first, then
   * the names it had before a rename (SerializerRegistry.formerNames), which `deserialize`
   * reads as the current one; `type` may be either. Stores widen type filters with it.
   * Absent: only `type`.
   */
  namesOf?(type: string): readonly string[];
}
