/** A top-level field value a query can match and order by. */
export type FieldValue = string | number | boolean | null;

/**
 * A read-model row: a JSON object (kept as its JSON form: undefined fields and functions drop).
 * An object whose `toJSON` gives no object (a `Date`, a decimal or date-time class) is refused,
 * and so is a row whose top-level string values are not all well-formed Unicode (a lone UTF-16
 * surrogate: the servers keep queried fields as UTF-8, where it becomes U+FFFD), or that has a
 * top-level `__proto__` member (as `JSON.parse` makes: an object's prototype, no field a query
 * could read; documents refuse the key too). Strings and `__proto__` keys deeper in the row, and
 * top-level keys no query may name, are kept as written.
 */
export type ReadRow = Record<string, unknown>;

/**
 * Equality on top-level fields, all of which must hold: `{ status: 'open' }`, or one of several
 * values: `{ status: { in: ['open', 'paused'] } }`. A field that is missing, or holds an object
 * or an array, counts as `null` (so `{ archivedAt: null }` finds rows without it). A field name
 * here, in orderBy, countBy and a store's indexes is non-empty, well-formed Unicode, without '.',
 * a leading '$' or a NUL, and not `__proto__`; a string value that is not well-formed Unicode is
 * refused (no row holds one).
 */
export type ReadWhere<Row extends object = ReadRow> = Readonly<
  string extends RowField<Row>
    ? Record<string, WhereValue>
    : { [Field in RowField<Row>]?: WhereValue }
>;

/** What `where` takes for one field: a value, or one of several. */
export type WhereValue = FieldValue | { readonly in: readonly FieldValue[] };

/**
 * The fields a query of a `Row` may name: its string keys, so a misspelt field (`nme` for
 * `name`) does not compile. Any string for an untyped store (`ReadStore` of `ReadRow`).
 */
export type RowField<Row extends object = ReadRow> = Extract<keyof Row, string>;

export interface ReadQuery<Row extends object = ReadRow> {
  where?: ReadWhere<Row>;
  /**
   * By one top-level field; ties (and a query without orderBy) by id ascending, so pages of
   * limit/offset never overlap. Values order as MongoDB's: null (and missing) < numbers <
   * strings (by code point) < booleans.
   */
  orderBy?: { field: RowField<Row>; direction?: 'asc' | 'desc' };
  /** At most this many rows (a non-negative integer); all when omitted. */
  limit?: number;
  /**
   * Skips this many rows first (a non-negative integer); 0 when omitted. Rows put or deleted
   * before the offset between two pages shift the others: a reader skips or repeats some. Page
   * with `after` where rows change while it reads.
   */
  offset?: number;
  /**
   * Only the rows after this cursor in the query's order: the `next` of a `findPage` answer of
   * the same `orderBy` (the `where` may differ). The cursor holds the last row's orderBy value
   * and id, and the id breaks ties, so a reader paging with it sees every row that stays put
   * exactly once, whatever rows are put or deleted meanwhile (a row whose orderBy value changes
   * moves, and may be seen twice or not at all). Not with `offset` (a TypeError naming both); a
   * cursor that is no `next`, or of another orderBy, is a TypeError naming `after`.
   */
  after?: string;
}

/** One page of `findPage`. */
export interface ReadPage<Row extends object = ReadRow> {
  /** The rows of the page, in the query's order. */
  rows: Row[];
  /**
   * The cursor after the page's last row, for the next page's `after`; present when the page
   * holds `limit` rows (more may follow), absent when it ended the matching rows (fewer rows,
   * or no limit).
   */
  next?: string;
}

/**
 * The largest `ttlMs` a put takes: 100 years. Far beyond any read model's need, and its expiry
 * stays a valid date (a JavaScript or BSON Date ends at 8.64e15 ms) and an exact integer in a
 * Redis script.
 */
export const MAX_TTL_MS = 100 * 365 * 24 * 60 * 60 * 1000;

/**
 * The largest row every store keeps: MongoDB's 16 MiB document, which MongoReadStore fills with
 * the row's JSON and its top-level strings again (its queried fields). A `documentCollection`
 * refuses a document whose row would be larger (its `maxRowBytes`), so that `documentProjection`
 * never meets a row it cannot put.
 */
export const MAX_ROW_BYTES = 16 * 1024 * 1024;

export interface PutRowOptions {
  /**
   * The version of what the row shows (e.g. the event's stream version): the row is written
   * only when it is greater than the stored row's version, so an at-least-once redelivery of an
   * older event changes nothing. A row stored without a version takes any versioned put.
   */
  version?: number;
  /** The row disappears this many milliseconds after the put (a positive integer, at most MAX_TTL_MS). */
  ttlMs?: number;
}

export interface DeleteRowOptions {
  /** Deletes only when the stored row's version is below this one (or it has none). */
  version?: number;
}

/** One group of `countBy`: how many live rows hold `value` in the field. */
export interface ValueCount {
  value: FieldValue;
  count: number;
}

/**
 * Where read-model rows live (S2-6): JSON objects keyed by a string id, written by projections
 * and read by queries. InMemoryReadStore, MongoReadStore (`./mongodb`) and RedisReadStore
 * (`./redis`) keep this contract; `describeReadStoreConformance` (`./testing`) checks it.
 *
 * Contract:
 * - A row read back equals its JSON round trip (unicode and nesting kept); a read never returns
 *   a row whose ttl has passed, whether or not it was purged yet.
 * - `put` with a `version` is idempotent for projections: it writes only when the version is
 *   greater than the stored one, atomically in memory and on Redis. On MongoDB (FerretDB) the
 *   compare and the write are one conditional statement that FerretDB does not run atomically
 *   (ADR 006): one writer per row (one projection runner) is assumed there.
 * - Deletes leave no tombstone: after a delete, an older put redelivered late writes the row
 *   again. A projection that deletes rows therefore applies a stream's events in order (as
 *   ProjectionRunner does), or keeps a row with a `deleted` field instead.
 * - An id is a non-empty, well-formed Unicode string: one with a lone UTF-16 surrogate has no
 *   UTF-8 form (Redis and MongoDB would store U+FFFD, so two such ids would share one row) and is
 *   refused by every operation, in every store alike. Surrogate pairs (emoji) are fine.
 * - Bad input (an empty id, a row whose JSON is not an object, a negative limit, an option a
 *   query, its orderBy, a put or a delete does not take…) is refused with a TypeError naming the
 *   argument, before anything is read or written.
 * - Safe to call concurrently. Neither init nor close opens or closes the connection given.
 * - `Row` may be any object type, an interface too (rows must still be JSON objects at run
 *   time); the default ReadRow takes any field name.
 */
export interface ReadStore<Row extends object = ReadRow> {
  /** Creates what the store needs (collection, indexes); idempotent. */
  init(): Promise<void>;
  /** The row, or undefined when there is none (or it expired). */
  get(id: string): Promise<Row | undefined>;
  /** The rows of these ids in the order of `ids`; ids without a (live) row are skipped. */
  getMany(ids: readonly string[]): Promise<Row[]>;
  /** Stores the row under the id; true when it was written, false when a newer version stands. */
  put(id: string, row: Row, options?: PutRowOptions): Promise<boolean>;
  /** Removes the row; true when a live row was removed. */
  delete(id: string, options?: DeleteRowOptions): Promise<boolean>;
  /** The live rows matching the query (see ReadQuery for the order). */
  find(query?: ReadQuery<Row>): Promise<Row[]>;
  /**
   * As find, with the cursor to the next page: page by `{ limit, after: previous.next }` until
   * `next` is absent, and no row is skipped or repeated while others are put or deleted.
   */
  findPage(query?: ReadQuery<Row>): Promise<ReadPage<Row>>;
  /** How many live rows match. */
  count(where?: ReadWhere<Row>): Promise<number>;
  /** How many live matching rows hold each value of a field, by value ascending. */
  countBy(field: RowField<Row>, where?: ReadWhere<Row>): Promise<ValueCount[]>;
  /** Removes every row, for Projection.reset (a rebuild). */
  clear(): Promise<void>;
  /**
   * Removes the rows whose ttl has passed and says how many. Reads skip them anyway; call it (or
   * schedule it) to free their space where the backend does not (MongoDB: FerretDB has no TTL
   * indexes).
   */
  purgeExpired(): Promise<number>;
  /** Releases what the store holds; the connection given stays open. */
  close(): Promise<void>;
}
