import { z } from 'zod';
import { checksumMatches, checksumOf } from './checksum';
import { type Envelope } from './envelope';
import {
  ChecksumMismatchError,
  MessageValidationError,
  UnknownMessageTypeError,
} from './message.errors';
import { checkEnvelopeSize, checkMaxMessageBytes } from './envelope.size';
import { DEFAULT_MAX_MESSAGE_BYTES } from './json.serializer';
import {
  type MessageSerializer,
  type SerializedEnvelope,
  type SerializeOptions,
} from './serializer.port';
import { assertSchema, isMessageType, type MessageType } from './message.type';
import { type Upcaster, UpcasterChain } from './upcaster.chain';
import { UnsupportedSchemaVersionError } from './upcaster.errors';
import { shownValue } from '../config/shown-value';

/** Any zod 4 schema (classic or mini). It must describe JSON data: no Date, Map, bigint. */
export type MessageSchema = z.core.$ZodType;

export interface MessageTypeOptions {
  /** Current schema version of the type. Default 1. Data of older versions is upcast on read. */
  version?: number;
  /**
   * Commands: the schema of the result the handler answers (request/reply). The result crosses
   * the wire as JSON, so its input must be what JSON carries (`z.coerce.date()` for a Date):
   * the handling CommandBus checks the JSON form of the handler's value against it before
   * replying with that JSON, and a requesting one parses the reply into its output, once
   * (CommandResultInvalidError names the field); undefined: the result is not checked. Checked
   * synchronously: no async refine or transform. Not versioned: change it compatibly (add
   * optional fields).
   */
  result?: MessageSchema;
}

export interface SerializerRegistryOptions {
  /**
   * Refuse to serialize an envelope whose JSON text (data, metadata and ids: what a store keeps
   * and a transport sends) is larger than this many UTF-8 bytes. Default
   * {@link DEFAULT_MAX_MESSAGE_BYTES} (1.5 MiB, as JsonSerializer); `Infinity` for no limit.
   * Deserializing is not limited, on purpose: events stored under a higher limit (or before it
   * was lowered) stay readable; a transport bounds what it accepts from the wire itself.
   */
  maxMessageBytes?: number;
  /** Upcasters to use; default a new, empty chain (register through `upcaster()`). */
  upcasters?: UpcasterChain;
}

interface Registration {
  readonly schema: MessageSchema;
  readonly version: number;
  readonly result?: MessageSchema;
}

/**
 * The serializer registry (S1-3, S2-8): message type name -> zod schema and current schema
 * version. Validates on serialize AND deserialize, stamps and verifies `sha256:` checksums,
 * upcasts old versions on read, and refuses oversized data before anything is written.
 *
 * Register every type at start-up, before the first message flows; after that the registry is
 * read-only in practice and safe to share between concurrent callers.
 *
 * Notes:
 * - Serialized data is the schema's *output* (zod strips unknown keys of plain objects), so
 *   what is stored is exactly what handlers will see.
 * - `serialize` validates data against the current schema and stamps the current schema version
 *   when the envelope claims that version, an older one or none (it does not upcast: a message
 *   created with a type name claims 1). It refuses a NEWER version (UnsupportedSchemaVersionError):
 *   a message of the next release, re-serialized here (a dead-letter replay, a republish), would
 *   otherwise lose its new fields and be stamped with the old version.
 * - A deserialized envelope keeps the `checksum` of the text it was read from (like the JSON
 *   serializer); after upcasting it no longer matches `data`. Serializing again stamps a fresh one.
 */
export class SerializerRegistry implements MessageSerializer {
  private readonly types = new Map<string, Registration>();
  /** Former name → the registered type it was renamed to (formerNames). */
  private readonly renames = new Map<string, string>();
  private readonly upcasters: UpcasterChain;

  constructor(private readonly options: SerializerRegistryOptions = {}) {
    checkMaxMessageBytes('SerializerRegistry', options.maxMessageBytes);
    this.upcasters = options.upcasters ?? new UpcasterChain();
  }

  /**
   * Registers (or replaces) the schema of `type`: a name with its schema, or a
   * {@link MessageType} (`messageType(name, schema, { version })`), which carries both.
   */
  register(type: MessageType): this;
  register(type: string, schema: MessageSchema, options?: MessageTypeOptions): this;
  register(
    nameOrType: string | MessageType,
    schemaOrNothing?: MessageSchema,
    optionsOrNothing: MessageTypeOptions = {},
  ): this {
    const [type, schema, options] = isMessageType(nameOrType)
      ? [
          nameOrType.type,
          nameOrType.schema,
          { version: nameOrType.version, result: nameOrType.result },
        ]
      : [nameOrType, schemaOrNothing, optionsOrNothing];
    if (schema === undefined)
      throw new TypeError(`SerializerRegistry.register(${type}): give the schema of the type`);
    const version = options.version ?? 1;
    if (!Number.isInteger(version) || version < 1) {
      throw new RangeError(`Schema version of ${type} must be an integer >= 1, got ${version}`);
    }
    const renamed = this.renames.get(type);
    if (renamed !== undefined)
      throw new TypeError(
        `SerializerRegistry.register(${type}): ${type} is a former name of ${renamed}; a name is either a type or a former name`,
      );
    assertSchema(`SerializerRegistry.register(${type}): the schema`, schema);
    if (options.result !== undefined)
      assertSchema(`SerializerRegistry.register(${type}): options.result`, options.result);
    this.types.set(type, {
      schema,
      version,
      ...(options.result !== undefined && { result: options.result }),
    });
    return this;
  }

  /**
   * Declares names `type` had before a rename. Data stored or sent under a former name is read
   * as `type` — its envelope's `type` becomes the current name, then it is upcast from its
   * `schemaVersion` like any data of `type` (the versions go on across the rename: when the
   * data changed with the name, give `type` the next version and an upcaster from the last one
   * written under the old name). Serializing an envelope under a former name writes the current
   * one. Stores find such events with a `types` filter on the current name (`namesOf`), and
   * subscribers accept them (`has`). Topics are not renamed: see the guide, "Evolving a schema".
   * @throws TypeError when `type` is not registered, or a name is registered, already the
   *   former name of another type, or has upcasters (register them under `type`: they would
   *   never run)
   */
  formerNames(type: string | MessageType, ...names: string[]): this {
    const current = isMessageType(type) ? type.type : type;
    if (!this.types.has(current))
      throw new TypeError(
        `SerializerRegistry.formerNames(${current}): register ${current} first, then name what it was called before`,
      );
    for (const name of names) {
      if (this.types.has(name))
        throw new TypeError(
          `SerializerRegistry.formerNames(${current}): ${name} is a registered type; a name is either a type or a former name`,
        );
      const other = this.renames.get(name);
      if (other !== undefined && other !== current)
        throw new TypeError(
          `SerializerRegistry.formerNames(${current}): ${name} is already a former name of ${other}`,
        );
      const steps = [...this.upcasters.steps()].filter(([type]) => type === name);
      if (steps.length > 0)
        throw new TypeError(
          `SerializerRegistry.formerNames(${current}): ${name} has upcasters ` +
            `(from ${steps.map(([, from]) => `v${from}`).join(', ')}); register them under ` +
            `${current} ${ACROSS_A_RENAME}`,
        );
    }
    for (const name of names) {
      this.renames.set(name, current);
    }
    return this;
  }

  /** `type` and its former names (formerNames); a former name gives its type's names too. */
  namesOf(type: string): readonly string[] {
    const current = this.renames.get(type) ?? type;
    const names = [current];
    for (const [former, to] of this.renames) if (to === current) names.push(former);
    return names;
  }

  /**
   * Registers the upcaster lifting `type` data from `fromVersion` to `fromVersion + 1`. Under
   * the type's current name: data stored under a former name is upcast as the type it became.
   * @throws TypeError when `type` is a former name (formerNames): its upcaster would never run
   */
  upcaster(type: string | MessageType, fromVersion: number, upcaster: Upcaster): this {
    const name = isMessageType(type) ? type.type : type;
    const renamed = this.renames.get(name);
    if (renamed !== undefined)
      throw new TypeError(
        `SerializerRegistry.upcaster(${name}, ${fromVersion}): ${formerNameAdvice(name, renamed)}`,
      );
    this.upcasters.register(name, fromVersion, upcaster);
    return this;
  }

  /** Whether `type` is registered, or a former name of a registered type. */
  has(type: string): boolean {
    return this.types.has(this.renames.get(type) ?? type);
  }

  /**
   * The result schema `type` declares (MessageTypeOptions.result), or undefined when it declares
   * none or is not registered: a command bus checks results only when it knows their schema.
   */
  resultSchema(type: string): MessageSchema | undefined {
    return this.types.get(this.renames.get(type) ?? type)?.result;
  }

  /** @throws UnknownMessageTypeError */
  currentVersion(type: string): number {
    return this.registration(type).version;
  }

  /** Registered type names. */
  typeNames(): string[] {
    return [...this.types.keys()];
  }

  /**
   * Checks that every registered type can be upcast from version 1 to its current version, and
   * that every upcaster can run: one of a type that is not registered (a typo in its name), of
   * a former name (formerNames: upcasting runs under the current name) or from its current
   * version or later would never be used. Call at start-up: a gap or a mistake then fails the
   * deploy instead of the first old message. An upcaster that would never run is named before
   * the gap it leaves.
   * @throws TypeError naming an upcaster that would never run
   * @throws MissingUpcasterError naming the first gap
   */
  assertUpcastersComplete(): void {
    for (const [type, from] of this.upcasters.steps()) {
      const step = `the upcaster of ${type} v${from} -> v${from + 1}`;
      const renamed = this.renames.get(type);
      if (renamed !== undefined)
        throw new TypeError(`${step} would never run: ${formerNameAdvice(type, renamed)}`);
      if (!this.has(type))
        throw new TypeError(
          `${step} would never run: ${type} is not a registered type (registered: ${this.typeNames().join(', ') || 'none'})`,
        );
      const current = this.currentVersion(type);
      if (from >= current)
        throw new TypeError(
          `${step} would never run: ${type} is registered at version ${current} (register it with { version: ${from + 1} } if that is the current one)`,
        );
    }
    for (const [type, { version }] of this.types) this.upcasters.assertComplete(type, 1, version);
  }

  /**
   * Validates data against the current schema of `type` and returns the schema's output.
   * @throws UnknownMessageTypeError, MessageValidationError naming the first offending field
   */
  validate(type: string, data: unknown): unknown {
    const result = z.safeParse(this.registration(type).schema, data);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    throw new MessageValidationError(
      this.renames.get(type) ?? type,
      issue ? fieldPath(issue.path) : '',
      issue?.message ?? 'is invalid',
    );
  }

  /**
   * @throws UnknownMessageTypeError, MessageValidationError, MessageTooLargeError, or
   *   UnsupportedSchemaVersionError when the envelope claims a schema version newer than the
   *   registered one; nothing is serialized then
   */
  serialize(envelope: Envelope, options: SerializeOptions = {}): SerializedEnvelope {
    const type = this.renames.get(envelope.type) ?? envelope.type;
    const { version } = this.registration(type);
    const claimed = claimedVersion(type, envelope.metadata.schemaVersion);
    if (claimed !== undefined && claimed > version)
      throw new UnsupportedSchemaVersionError(type, claimed, version);
    const valid = this.validate(type, envelope.data);
    let data: string;
    try {
      data = JSON.stringify(valid);
    } catch (error) {
      // A BigInt or a cycle the schema let through (z.unknown()): refused as JsonSerializer does.
      throw new MessageValidationError(type, '', `is not JSON-serializable: ${String(error)}`);
    }
    const serialized: SerializedEnvelope = {
      ...envelope,
      type,
      data,
      metadata: { ...envelope.metadata, checksum: checksumOf(data), schemaVersion: version },
    };
    checkEnvelopeSize(
      serialized,
      options.maxMessageBytes ?? this.options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    );
    return serialized;
  }

  deserialize(serialized: SerializedEnvelope): Envelope {
    const { metadata } = serialized;
    const { checksum } = metadata;
    // Checksum first: corrupted text must not reach JSON.parse, upcasters or handlers.
    if (!checksumMatches(serialized.data, checksum)) {
      throw new ChecksumMismatchError(
        serialized.messageId,
        checksum ?? '(missing)',
        checksumOf(serialized.data),
      );
    }
    // Written under a former name: read as the type it became.
    const type = this.renames.get(serialized.type) ?? serialized.type;
    const { version } = this.registration(type);
    let parsed: unknown;
    try {
      parsed = JSON.parse(serialized.data);
    } catch (error) {
      throw new MessageValidationError(type, '', `is not JSON (${(error as Error).message})`);
    }
    const writtenAt = claimedVersion(type, metadata.schemaVersion) ?? 1;
    const upcast = this.upcasters.upcast(type, parsed, writtenAt, version, metadata);
    return {
      ...serialized,
      type,
      data: this.validate(type, upcast),
      metadata: { ...metadata, schemaVersion: version },
    };
  }

  private registration(type: string): Registration {
    const registration = this.types.get(this.renames.get(type) ?? type);
    if (!registration) throw new UnknownMessageTypeError(type);
    return registration;
  }
}

/**
 * The schema version an envelope's metadata claims: a positive integer, or undefined (none). A
 * string (`"2"`, from a producer in another language) or a fraction was compared and counted
 * with as a number would not be — `"1" + 1` is `"11"`: a MissingUpcasterError for "v1 -> v11",
 * or no upcast at all — so it is refused, as data of no known version, naming the field.
 * @throws MessageValidationError naming `metadata.schemaVersion` and the value given
 */
function claimedVersion(type: string, value: unknown): number | undefined {
  // null as none, as `?? 1` read it: a store or producer may write a missing field so.
  if (value === undefined || value === null) return undefined;
  if (Number.isSafeInteger(value) && (value as number) >= 1) return value as number;
  throw new MessageValidationError(
    type,
    'metadata.schemaVersion',
    `must be a positive integer, got ${shownValue(value)}`,
  );
}

const ACROSS_A_RENAME = '(schema versions go on across a rename)';

/** Why an upcaster under a former name is refused: deserialize upcasts under the current one. */
function formerNameAdvice(former: string, current: string): string {
  return `${former} is a former name of ${current}: register its upcasters under ${current} ${ACROSS_A_RENAME}`;
}

/** `['position', 'x']` -> `position.x`; array indices stay numeric: `items.0.sku`. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((key) => String(key)).join('.');
}
