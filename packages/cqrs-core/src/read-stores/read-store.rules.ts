import { shownValue } from '../config/shown-value';
import { isWellFormed, NOT_WELL_FORMED } from '../config/well-formed';
import {
  type DeleteRowOptions,
  type FieldValue,
  MAX_TTL_MS,
  type PutRowOptions,
  type ReadPage,
  type ReadQuery,
  type ReadRow,
  type ValueCount,
} from './read-store.port';

/*
 * What every ReadStore checks and computes alike, so the backends refuse the same inputs with
 * the same messages and answer queries in the same order: each one starts with these checks,
 * and the in-memory and Redis stores also match and order rows with these functions.
 */

export function checkId(id: unknown, name = 'id'): asserts id is string {
  if (typeof id !== 'string' || id === '')
    throw new TypeError(`${name} must be a non-empty string, got ${shownValue(id)}`);
  // Redis and MongoDB store ids as UTF-8, where every lone surrogate becomes U+FFFD: two ids
  // differing only there would share one row (the in-memory store kept them apart).
  if (!isWellFormed(id)) throw new TypeError(`${name} ${NOT_WELL_FORMED}, got ${shownValue(id)}`);
}

export function checkIds(ids: unknown): asserts ids is readonly string[] {
  if (!Array.isArray(ids)) throw new TypeError(`ids must be an array, got ${shownValue(ids)}`);
  ids.forEach((id, index) => checkId(id, `ids[${index}]`));
}

/** A row as a store keeps it: its JSON text, and that text parsed (what reads give back). */
export interface StoredRow {
  json: string;
  row: ReadRow;
}

/**
 * The row as stored, checked.
 * @throws TypeError when the row is not a JSON object, has a top-level `__proto__` member, or
 *   a top-level string of it is not well-formed Unicode
 */
export function storedRow(row: unknown): StoredRow {
  if (typeof row !== 'object' || row === null || Array.isArray(row))
    throw new TypeError(`row must be a JSON object, got ${shownValue(row)}`);
  let json: string | undefined;
  try {
    json = JSON.stringify(row);
  } catch (error) {
    // A bigint or a cycle: named as the row's fault, not a bare JSON error.
    throw new TypeError(`row must be a JSON object: ${(error as Error).message}`);
  }
  // A toJSON decides the text (a Date, a decimal or date-time class): stored when it is not an
  // object, it is no row, and every later read that parses it fails or returns a string.
  if (json === undefined || !json.startsWith('{'))
    throw new TypeError(
      `row must be a JSON object, but its JSON (by toJSON) is ${json === undefined ? 'undefined' : shortened(json)}`,
    );
  const stored = JSON.parse(json) as ReadRow;
  // An own `__proto__` member (JSON.parse makes one) would be no field to queries.
  if (Object.hasOwn(stored, '__proto__'))
    throw new TypeError(`row's top-level field name ${NOT_PROTO}; rename it`);
  // Queries see the top-level strings as the servers keep them, UTF-8, where a lone surrogate
  // becomes U+FFFD ('x\uD800' would match 'x\uD801' there, not in memory). Deeper strings stay
  // in the JSON text, which escapes them (`\ud800`): every store gives them back alike.
  for (const [field, value] of Object.entries(stored))
    if (typeof value === 'string' && !isWellFormed(value))
      throw new TypeError(
        `row.${field} ${NOT_WELL_FORMED}, got ${shortened(JSON.stringify(value))}`,
      );
  return { json, row: stored };
}

/**
 * An upper bound of the bytes a row takes where it is largest, as MongoReadStore's document
 * `{ _id, json, fields, version, expiresAt }`: its JSON, each top-level field again with its
 * value (a string's bytes, at most 8 for another value) and a BSON element's overhead, the id,
 * and 128 bytes for the rest. Exact enough to be close (a few bytes per top-level field over),
 * cheap (no BSON encoding), and never under, so a row within MAX_ROW_BYTES by it always fits.
 */
export function rowBytesBound(id: string, json: string, row: ReadRow): number {
  let bytes = Buffer.byteLength(json) + Buffer.byteLength(id) + 128;
  for (const [field, value] of Object.entries(row))
    bytes +=
      Buffer.byteLength(field) + 10 + (typeof value === 'string' ? Buffer.byteLength(value) : 0);
  return bytes;
}

/** At most 80 characters of a text, for an error message. */
function shortened(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 80)}…`;
}

/**
 * Refuses a key `object` does not take (a misspelt option was ignored: `find({ userId })`
 * answered every row, a put's `ttl` kept the row for ever). Keys holding undefined change
 * nothing and pass.
 */
function checkKeys(object: object, name: string, takes: readonly string[]): void {
  const plural = name.endsWith(' options');
  for (const [key, value] of Object.entries(object))
    if (value !== undefined && !takes.includes(key))
      throw new TypeError(
        `${name} ${plural ? 'have' : 'has'} no option ${JSON.stringify(key)} ` +
          `(${plural ? 'they take' : 'it takes'} ${takes.join(', ')})`,
      );
}

export function checkPutOptions(options: PutRowOptions | undefined): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`put options must be an object, got ${shownValue(options)}`);
  checkKeys(options, 'put options', ['version', 'ttlMs']);
  checkVersion(options.version);
  const { ttlMs } = options;
  if (ttlMs === undefined) return;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1)
    throw new TypeError(`ttlMs must be a positive integer, got ${shownValue(ttlMs)}`);
  // Bounded so that every store computes a valid expiry date (MongoDB's expiresAt).
  if (ttlMs > MAX_TTL_MS)
    throw new TypeError(`ttlMs must be at most ${MAX_TTL_MS} (100 years), got ${ttlMs}`);
}

export function checkDeleteOptions(options: DeleteRowOptions | undefined): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`delete options must be an object, got ${shownValue(options)}`);
  checkKeys(options, 'delete options', ['version']);
  checkVersion(options.version);
}

function checkVersion(version: unknown): void {
  if (version !== undefined && (!Number.isSafeInteger(version) || (version as number) < 0))
    throw new TypeError(`version must be a non-negative integer, got ${shownValue(version)}`);
}

/**
 * A top-level field name: not empty, no '.', not starting with '$' (MongoDB paths), no NUL (no
 * BSON key holds one). Refused alike by every store, so a query means the same on each.
 */
export function checkField(field: unknown, name: string): asserts field is string {
  if (
    typeof field !== 'string' ||
    field === '' ||
    field.includes('.') ||
    field.startsWith('$') ||
    field.includes('\u0000')
  )
    throw new TypeError(
      `${name} must be a top-level field name (no '.', no leading '$', no NUL), got ${shownValue(field)}`,
    );
  // A BSON key is UTF-8: MongoDB would see 'a\uD800' and 'a\uD801' as one field.
  if (!isWellFormed(field))
    throw new TypeError(`${name} ${NOT_WELL_FORMED}, got ${shownValue(field)}`);
  if (field === '__proto__') throw new TypeError(`${name} ${NOT_PROTO}, got "__proto__"`);
}

/**
 * Why no row holds a top-level `__proto__` (documents refuse the key too): assigned, it sets an
 * object's prototype rather than a field, so MongoDB's queried fields silently lost it.
 */
const NOT_PROTO = "must not be __proto__ (an object's prototype, not a field: rows cannot hold it)";

/** Whether queries can see a top-level field of a row (checkField accepts its name). */
function isQueryable(field: string): boolean {
  return (
    field !== '' &&
    !field.includes('.') &&
    !field.startsWith('$') &&
    !field.includes('\u0000') &&
    isWellFormed(field) &&
    field !== '__proto__'
  );
}

function isFieldValue(value: unknown): value is FieldValue {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/** The where as lists of accepted values per field. @throws TypeError naming the bad part */
export function checkWhere(where: unknown): Map<string, FieldValue[]> {
  const fields = new Map<string, FieldValue[]>();
  if (where === undefined) return fields;
  if (typeof where !== 'object' || where === null || Array.isArray(where))
    throw new TypeError(`where must be an object, got ${shownValue(where)}`);
  for (const [field, condition] of Object.entries(where)) {
    checkField(field, 'a where field');
    if (isFieldValue(condition)) {
      fields.set(field, [checkedValue(field, condition, condition)]);
      continue;
    }
    const values = (condition as { in?: unknown } | undefined)?.in;
    if (
      typeof condition !== 'object' ||
      Object.keys(condition).length !== 1 ||
      !Array.isArray(values) ||
      !values.every(isFieldValue)
    )
      throw new TypeError(
        `where.${field} must be a string, finite number, boolean, null or { in: [such values] }, got ${shownValue(condition)}`,
      );
    fields.set(
      field,
      values.map((value) => checkedValue(field, value, condition)),
    );
  }
  return fields;
}

/**
 * A where value, refused when it is a string that is not well-formed Unicode: no row holds one
 * (put refuses them), and the servers would match it as U+FFFD.
 */
function checkedValue(field: string, value: FieldValue, condition: unknown): FieldValue {
  if (typeof value === 'string' && !isWellFormed(value))
    throw new TypeError(`where.${field} ${NOT_WELL_FORMED}, got ${shownValue(condition)}`);
  return value;
}

export interface CheckedQuery {
  where: Map<string, FieldValue[]>;
  orderBy?: { field: string; direction: 'asc' | 'desc' };
  limit?: number;
  offset: number;
  /** The position of a page's last row (its `next`): only rows after it in the order. */
  after?: RowKey;
}

/** Where a row stands in a query's order: its orderBy value (null without orderBy), then its id. */
export interface RowKey {
  value: FieldValue;
  id: string;
}

export function checkQuery<Row extends object>(query: ReadQuery<Row> | undefined): CheckedQuery {
  if (query === undefined) return { where: new Map(), offset: 0 };
  if (typeof query !== 'object' || query === null)
    throw new TypeError(`query must be an object, got ${shownValue(query)}`);
  checkKeys(query, 'query', ['where', 'orderBy', 'limit', 'offset', 'after']);
  const where = checkWhere(query.where);
  let orderBy: CheckedQuery['orderBy'];
  if (query.orderBy !== undefined) {
    if (typeof query.orderBy !== 'object' || query.orderBy === null)
      throw new TypeError(
        `orderBy must be an object { field, direction? }, got ${shownValue(query.orderBy)}`,
      );
    checkKeys(query.orderBy, 'orderBy', ['field', 'direction']);
    checkField(query.orderBy.field, 'orderBy.field');
    const direction = query.orderBy.direction ?? 'asc';
    if (direction !== 'asc' && direction !== 'desc')
      throw new TypeError(
        `orderBy.direction must be 'asc' or 'desc', got ${shownValue(direction)}`,
      );
    orderBy = { field: query.orderBy.field, direction };
  }
  for (const name of ['limit', 'offset'] as const) {
    const value = query[name];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0))
      throw new TypeError(`${name} must be a non-negative integer, got ${shownValue(value)}`);
  }
  if (query.after === undefined)
    return { where, orderBy, limit: query.limit, offset: query.offset ?? 0 };
  // An offset counts rows from the cursor that may have moved: the mix is what after replaces.
  if (query.offset !== undefined)
    throw new TypeError(
      'after and offset cannot be used together: page with after alone (an offset counts rows that are put or deleted meanwhile)',
    );
  return { where, orderBy, limit: query.limit, offset: 0, after: cursorKey(query.after, orderBy) };
}

/*
 * A cursor is base64url of the JSON [orderBy field or null, direction, value, id]: the same on
 * every store, as it holds only what the shared order compares. The field and direction are
 * in it so that a cursor of another order is refused instead of starting at a meaningless place.
 */

/** The cursor after a row, for the next page. */
function cursorOf(orderBy: CheckedQuery['orderBy'], key: RowKey): string {
  const json = JSON.stringify([
    orderBy?.field ?? null,
    orderBy?.direction ?? 'asc',
    key.value,
    key.id,
  ]);
  return Buffer.from(json).toString('base64url');
}

/** The position a cursor holds. @throws TypeError naming `after` when it is none of this order */
function cursorKey(after: unknown, orderBy: CheckedQuery['orderBy']): RowKey {
  const malformed = () =>
    new TypeError(
      `after must be the next cursor of a findPage answer, got ${shownValue(typeof after === 'string' ? shortened(after) : after)}`,
    );
  if (typeof after !== 'string' || after === '') throw malformed();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(after, 'base64url').toString());
  } catch {
    throw malformed();
  }
  if (!Array.isArray(decoded) || decoded.length !== 4) throw malformed();
  const [field, direction, value, id] = decoded as unknown[];
  if (
    (field !== null && typeof field !== 'string') ||
    (direction !== 'asc' && direction !== 'desc') ||
    !isFieldValue(value) ||
    (field === null && value !== null) ||
    typeof id !== 'string' ||
    id === '' ||
    !isWellFormed(id) ||
    (typeof value === 'string' && !isWellFormed(value))
  )
    throw malformed();
  // Re-encoded it must give the same text: base64 decoding skips what it cannot read.
  const key = { value, id };
  const own = field === null ? undefined : { field, direction: direction as 'asc' | 'desc' };
  if (cursorOf(own, key) !== after) throw malformed();
  if (field !== (orderBy?.field ?? null) || direction !== (orderBy?.direction ?? 'asc'))
    throw new TypeError(
      `after is a cursor of another order (${orderName(own)}), not of this query's (${orderName(orderBy)}): page with the orderBy it came from`,
    );
  return key;
}

function orderName(orderBy: CheckedQuery['orderBy']): string {
  return orderBy ? `orderBy ${orderBy.field} ${orderBy.direction}` : 'by id';
}

/** Where a row stands in the order of a query. */
export function keyOf(orderBy: CheckedQuery['orderBy'], id: string, row: object): RowKey {
  return { value: orderBy ? fieldOf(row, orderBy.field) : null, id };
}

/** The rows of a page (entries in the query's order) and the cursor after its last row. */
export function pageAnswer<Row extends object>(
  entries: readonly (readonly [string, Row])[],
  query: CheckedQuery,
): ReadPage<Row> {
  const rows = entries.map(([, row]) => row);
  const last = entries.at(-1);
  if (query.limit === undefined || entries.length < query.limit || !last) return { rows };
  return { rows, next: cursorOf(query.orderBy, keyOf(query.orderBy, last[0], last[1])) };
}

/** A field of a row as queries see it: objects, arrays and missing fields are null. */
export function fieldOf(row: object, field: string): FieldValue {
  const value = Object.hasOwn(row, field) ? (row as ReadRow)[field] : null;
  return isFieldValue(value) ? value : null;
}

/**
 * The top-level fields queries can see (what MongoReadStore keeps beside the row's JSON). A key
 * no query may name is left out: a BSON key cannot hold a NUL, and a lone surrogate in one would
 * become U+FFFD (the row's JSON keeps them).
 */
export function queryFields(row: ReadRow): Record<string, FieldValue> {
  const fields: Record<string, FieldValue> = {};
  for (const field of Object.keys(row)) {
    if (!isQueryable(field)) continue;
    const value = fieldOf(row, field);
    if (value !== null) fields[field] = value;
  }
  return fields;
}

export function matches(row: object, where: Map<string, FieldValue[]>): boolean {
  for (const [field, values] of where) {
    const value = fieldOf(row, field);
    if (!values.some((accepted) => compareValues(accepted, value) === 0)) return false;
  }
  return true;
}

const RANK = { object: 0, number: 1, string: 2, boolean: 3 } as const;

/** MongoDB's order: null < numbers < strings (UTF-8 bytes, i.e. code points) < booleans. */
export function compareValues(a: FieldValue, b: FieldValue): number {
  const rankA = RANK[typeof a as keyof typeof RANK];
  const rankB = RANK[typeof b as keyof typeof RANK];
  if (rankA !== rankB) return rankA - rankB;
  if (typeof a === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b as string));
  if (a === null) return 0;
  return a < (b as number | boolean) ? -1 : a > (b as number | boolean) ? 1 : 0;
}

/** The order of two row keys in a query: by value (either way), ties by id ascending. */
function compareKeys(orderBy: CheckedQuery['orderBy'], a: RowKey, b: RowKey): number {
  const sign = orderBy?.direction === 'desc' ? -1 : 1;
  return sign * compareValues(a.value, b.value) || compareValues(a.id, b.id);
}

/**
 * Orders the matching rows as the query says (ties by id), keeps those after its cursor, skips
 * and limits them: the page's entries.
 */
export function page<Row extends object>(
  entries: readonly (readonly [string, Row])[],
  query: CheckedQuery,
): [string, Row][] {
  const { orderBy, after } = query;
  const keyed = entries.map((entry) => [keyOf(orderBy, entry[0], entry[1]), entry] as const);
  const sorted = keyed
    .filter(([key]) => !after || compareKeys(orderBy, key, after) > 0)
    .sort(([a], [b]) => compareKeys(orderBy, a, b));
  const end = query.limit === undefined ? undefined : query.offset + query.limit;
  return sorted.slice(query.offset, end).map(([, [id, row]]) => [id, row]);
}

/**
 * countBy over matching rows, by value ascending. Grouped by a key per value (equal as
 * compareValues says: a type and its text; 0 and -0 are one), so the cost grows with the rows,
 * not with rows × groups.
 */
export function countValues(rows: Iterable<object>, field: string): ValueCount[] {
  const counts = new Map<string, ValueCount>();
  for (const row of rows) {
    const value = fieldOf(row, field);
    const key = `${typeof value === 'object' ? 'null' : typeof value}:${String(value)}`;
    const found = counts.get(key);
    if (found) found.count++;
    else counts.set(key, { value, count: 1 });
  }
  return [...counts.values()].sort((a, b) => compareValues(a.value, b.value));
}
