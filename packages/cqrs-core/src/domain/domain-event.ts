/**
 * An event as domain code sees it: a type name and its data, nothing about storage. The
 * repository turns it into an envelope on save (id, timestamp, causation…) and back on load.
 * `metadata` is optional on new events (extra envelope metadata, e.g. a tenant) and filled
 * from the stored envelope on load.
 */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/**
 * The schema version `MessageType.of` made an event in: a property that does not enumerate, so
 * that events compare, print and serialize as `{ type, data }`. A copy made by spreading loses it.
 */
const SCHEMA_VERSION = Symbol('causeway.schemaVersion');

/** `event` with the schema version it was made in (MessageType.of). */
export function withSchemaVersion<E extends object>(event: E, version: number): E {
  return Object.defineProperty(event, SCHEMA_VERSION, { value: version, enumerable: false });
}

/**
 * The schema version a new event is written in: its `metadata.schemaVersion`, else the version of
 * the type that made it (`MessageType.of`), else undefined (a plain `{ type, data }`: version 1).
 */
export function schemaVersionOf(event: DomainEvent): number | undefined {
  const stated = event.metadata?.schemaVersion;
  if (typeof stated === 'number') return stated;
  return (event as { [SCHEMA_VERSION]?: number })[SCHEMA_VERSION];
}

/**
 * A command as a decider sees it. Time and caller come in through `metadata` (e.g.
 * `metadata.now`), never from a clock inside `decide`, so that decisions are reproducible.
 */
export interface DomainCommand<
  Type extends string = string,
  Data = unknown,
  Metadata = Readonly<Record<string, unknown>>,
> {
  readonly type: Type;
  readonly data: Data;
  readonly metadata?: Metadata;
}
