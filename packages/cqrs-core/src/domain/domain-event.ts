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
