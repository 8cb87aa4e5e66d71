import { type Connection, type mongo } from 'mongoose';
import { shownValue } from '../config/shown-value';
import { MAX_DOCUMENT_BYTES, sizeOver } from './mongodb.document-size';
import { type IndexSpec, ensureIndexes } from './mongodb.indexes';
import {
  type DeleteRowOptions,
  type FieldValue,
  type PutRowOptions,
  type ReadPage,
  type ReadQuery,
  type ReadRow,
  type ReadStore,
  type ReadWhere,
  type RowField,
  type ValueCount,
} from '../read-stores/read-store.port';
import {
  checkDeleteOptions,
  checkField,
  checkId,
  checkIds,
  checkPutOptions,
  checkQuery,
  checkWhere,
  type CheckedQuery,
  compareValues,
  pageAnswer,
  queryFields,
  type RowKey,
  storedRow,
} from '../read-stores/read-store.rules';

export interface MongoReadStoreOptions<Row extends object = ReadRow> {
  /** An open mongoose connection (see mongoConnection). The store does not close it. */
  connection: Connection;
  /** The store's own collection. */
  collection: string;
  /**
   * Indexes to create at init(), each a list of top-level fields in order:
   * `[['status'], ['userId', 'updatedAt']]`. Queries work on any field; these make them fast.
   */
  indexes?: readonly (readonly RowField<Row>[])[];
  /**
   * The top-level fields `find`/`count`/`countBy` may filter or group by, as RedisReadStore's
   * `indexed`: a query on another field is refused (a TypeError naming it) instead of matching
   * no row, as MongoDB would for a misspelt field. orderBy may use any field, as on Redis. When
   * omitted, every field may be queried.
   */
  fields?: readonly RowField<Row>[];
}

/** A row as stored. */
interface ReadDocument {
  _id: string;
  /** The row's JSON text: read back exactly, whatever its keys ('.', '$') or nesting. */
  json: string;
  /** The top-level string, number and boolean fields: what queries, sorts and indexes see. */
  fields: Record<string, FieldValue>;
  version?: number;
  expiresAt?: Date;
}

const DUPLICATE_KEY = 11000;

/** Rows whose ttl has not passed (no TTL indexes on FerretDB: every read filters). */
const live = (now: Date): mongo.Filter<ReadDocument> => ({
  $or: [{ expiresAt: { $exists: false } }, { expiresAt: { $gt: now } }],
});

/**
 * MongoDB read store (S2-6), FerretDB-compatible: one document per row in the store's own
 * collection, `{ _id: id, json, fields, version?, expiresAt? }`. Queries run on `fields.<name>`
 * (find/sort/skip/limit, countDocuments, an aggregate $match/$group/$sort for countBy); the
 * indexes of the options are created at init(). A row's document is at most MongoDB's 16 MiB,
 * its top-level strings counted twice (JSON and fields): put refuses a larger one (RangeError).
 *
 * A versioned put is one replaceOne with upsert whose filter accepts only an older (or no, or
 * an expired) stored version: a newer row makes the upsert's insert fail on the _id. That
 * failure also comes when two puts of a new row race (both filters found nothing, both insert),
 * so the put then retries once as a replaceOne without upsert of the same filter, and matching
 * nothing is the "not written" answer. MongoDB runs each conditional replace atomically on its
 * document; FerretDB does not (ADR 006), so two writers of one row could both land there: one
 * writer per row (one projection runner) is assumed.
 *
 * Expiry: FerretDB has no TTL indexes, so a row with a ttl keeps an `expiresAt` (the app's
 * clock), every read filters expired rows out, and purgeExpired() deletes them (call it from a
 * timer or a job; an expired row costs space only).
 */
export class MongoReadStore<Row extends object = ReadRow> implements ReadStore<Row> {
  private readonly connection: Connection;
  private readonly name: string;
  private readonly indexes: IndexSpec[];
  /** The fields queries may name; undefined when the options declare none (any field). */
  private readonly fields: ReadonlySet<string> | undefined;

  constructor(options: MongoReadStoreOptions<NoInfer<Row>>) {
    if (typeof options?.connection?.collection !== 'function')
      throw new TypeError('MongoReadStore: options.connection must be a mongoose connection');
    if (typeof options.collection !== 'string' || options.collection === '')
      throw new TypeError('MongoReadStore: options.collection must be a non-empty string');
    this.connection = options.connection;
    this.name = options.collection;
    if (options.indexes !== undefined && !Array.isArray(options.indexes))
      throw new TypeError(
        `MongoReadStore: options.indexes must be an array of field lists (e.g. [['status']]), got ${shownValue(options.indexes)}`,
      );
    this.indexes = (options.indexes ?? []).map((fields, index) => {
      if (!Array.isArray(fields) || fields.length === 0)
        throw new TypeError(`MongoReadStore: options.indexes[${index}] must list fields`);
      const keys: Record<string, 1> = {};
      for (const field of fields) {
        checkField(field, `MongoReadStore: options.indexes[${index}] field`);
        keys[`fields.${field}`] = 1;
      }
      return { name: Object.keys(keys).join('_1_') + '_1', keys };
    });
    if (options.fields !== undefined) {
      if (!Array.isArray(options.fields))
        throw new TypeError(
          `MongoReadStore: options.fields must be an array of field names, got ${shownValue(options.fields)}`,
        );
      options.fields.forEach((field, index) =>
        checkField(field, `MongoReadStore: options.fields[${index}]`),
      );
      this.fields = new Set(options.fields);
    }
  }

  private get collection(): mongo.Collection<ReadDocument> {
    const db = this.connection.db;
    if (!db) throw new Error('MongoReadStore: the connection is not open');
    return db.collection<ReadDocument>(this.name);
  }

  async init(): Promise<void> {
    // expiresAt: for purgeExpired (a plain index: FerretDB has no TTL index).
    await ensureIndexes(this.collection, [
      { name: 'expiresAt_1', keys: { expiresAt: 1 } },
      ...this.indexes,
    ]);
  }

  async get(id: string): Promise<Row | undefined> {
    checkId(id);
    const found = await this.collection.findOne(
      { _id: id, ...live(new Date()) },
      { projection: { json: 1 } },
    );
    return found ? (JSON.parse(found.json) as Row) : undefined;
  }

  async getMany(ids: readonly string[]): Promise<Row[]> {
    checkIds(ids);
    if (ids.length === 0) return [];
    const found = await this.collection
      .find({ _id: { $in: [...new Set(ids)] }, ...live(new Date()) }, { projection: { json: 1 } })
      .toArray();
    const byId = new Map(found.map((document) => [document._id, document.json]));
    return ids.flatMap((id) => {
      const json = byId.get(id);
      return json === undefined ? [] : [JSON.parse(json) as Row];
    });
  }

  async put(id: string, row: Row, options?: PutRowOptions): Promise<boolean> {
    checkId(id);
    const { json, row: stored } = storedRow(row);
    checkPutOptions(options);
    const now = new Date();
    const document: ReadDocument = {
      _id: id,
      json,
      fields: queryFields(stored),
      ...(options?.version !== undefined && { version: options.version }),
      ...(options?.ttlMs !== undefined && { expiresAt: new Date(now.getTime() + options.ttlMs) }),
    };
    // Checked before writing so that MongoDB and FerretDB refuse alike and clearly (the driver's
    // own error is a bare RangeError of its buffer). The fields are copied from the JSON: each
    // is under 3 bytes per character of it plus a few, so 9 per character bounds the whole.
    const size = sizeOver(document, 9 * json.length + 3 * id.length + 1024);
    if (size !== undefined)
      throw new RangeError(
        `MongoReadStore: the row ${JSON.stringify(id)} takes ${size} bytes as a document, over ` +
          `MongoDB's maximum of ${MAX_DOCUMENT_BYTES}: not written; keep large values out of ` +
          'read rows (a top-level string counts twice: in the JSON and in the queried fields)',
      );
    const filter: mongo.Filter<ReadDocument> =
      options?.version === undefined
        ? { _id: id }
        : { _id: id, $or: [...olderThan(options.version), { expiresAt: { $lte: now } }] };
    try {
      await this.collection.replaceOne(filter, document, { upsert: true });
      return true;
    } catch (error) {
      if ((error as { code?: number }).code !== DUPLICATE_KEY) throw error;
      // The upsert's insert hit a stored row: either a newer one stood, or a concurrent put of a
      // new row inserted first while this one's filter found nothing. Only a replace of what
      // stands now tells which; it matches nothing when the stored version is not older.
      const { matchedCount } = await this.collection.replaceOne(filter, document);
      return matchedCount > 0;
    }
  }

  async delete(id: string, options?: DeleteRowOptions): Promise<boolean> {
    checkId(id);
    checkDeleteOptions(options);
    const version = options?.version;
    const { deletedCount } = await this.collection.deleteOne({
      _id: id,
      $and: [live(new Date()), ...(version === undefined ? [] : [{ $or: olderThan(version) }])],
    });
    return deletedCount > 0;
  }

  async find(query?: ReadQuery<Row>): Promise<Row[]> {
    return (await this.findPage(query)).rows;
  }

  async findPage(query?: ReadQuery<Row>): Promise<ReadPage<Row>> {
    const checked = checkQuery(query);
    const sort: Record<string, 1 | -1> = {};
    if (checked.orderBy)
      sort[`fields.${checked.orderBy.field}`] = checked.orderBy.direction === 'desc' ? -1 : 1;
    sort._id = 1;
    const filter = this.filter(checked.where);
    if (checked.limit === 0) return { rows: [] };
    if (checked.after) filter.$and = [after(checked.orderBy, checked.after)];
    let cursor = this.collection
      .find(filter, { projection: { json: 1 } })
      .sort(sort)
      .skip(checked.offset);
    if (checked.limit !== undefined) cursor = cursor.limit(checked.limit);
    const entries = (await cursor.toArray()).map(
      (document) => [document._id, JSON.parse(document.json) as Row] as const,
    );
    return pageAnswer(entries, checked);
  }

  async count(where?: ReadWhere<Row>): Promise<number> {
    return this.collection.countDocuments(this.filter(checkWhere(where)));
  }

  async countBy(field: RowField<Row>, where?: ReadWhere<Row>): Promise<ValueCount[]> {
    checkField(field, 'field');
    this.checkDeclared(field, 'countBy field');
    const groups = await this.collection
      .aggregate<{ _id: FieldValue | undefined; count: number }>([
        { $match: this.filter(checkWhere(where)) },
        { $group: { _id: `$fields.${field}`, count: { $sum: 1 } } },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    // Sorted again by the one order every store shares (a server may order mixed types apart).
    return groups
      .map((group) => ({ value: group._id ?? null, count: group.count }))
      .sort((a, b) => compareValues(a.value, b.value));
  }

  async clear(): Promise<void> {
    await this.collection.deleteMany({});
  }

  async purgeExpired(): Promise<number> {
    const { deletedCount } = await this.collection.deleteMany({
      expiresAt: { $lte: new Date() },
    });
    return deletedCount;
  }

  async close(): Promise<void> {}

  /** Refuses a field the options do not declare (when they declare fields). */
  private checkDeclared(field: string, name: string): void {
    if (this.fields !== undefined && !this.fields.has(field))
      throw new TypeError(
        `MongoReadStore: ${name} is not a declared field; declare "${field}" in options.fields to query by it (fields: ${[...this.fields].join(', ') || 'none'})`,
      );
  }

  private filter(where: Map<string, FieldValue[]>): mongo.Filter<ReadDocument> {
    const filter: Record<string, unknown> = live(new Date());
    for (const field of where.keys()) this.checkDeclared(field, `where.${field}`);
    for (const [field, values] of where)
      filter[`fields.${field}`] = values.length === 1 ? values[0] : { $in: values };
    return filter as mongo.Filter<ReadDocument>;
  }
}

/** The value types in MongoDB's order (null and missing first), as `$type` names them. */
const BRACKETS = ['null', 'number', 'string', 'bool'] as const;

function bracketOf(value: FieldValue): number {
  if (value === null) return 0;
  return BRACKETS.indexOf(typeof value === 'boolean' ? 'bool' : (typeof value as 'number'));
}

/**
 * The documents after a row key in the order of find's sort (the value either way, ties by
 * `_id` ascending): range filters only, as MongoDB and FerretDB both run them. A comparison
 * (`$gt`) matches only values of its own type, so the types ordered beyond the key's are
 * named by `$type`; `fields` holds no nulls (a null or missing field is absent there).
 */
function after(orderBy: CheckedQuery['orderBy'], key: RowKey): mongo.Filter<ReadDocument> {
  const laterId = { _id: { $gt: key.id } };
  if (!orderBy) return laterId;
  const path = `fields.${orderBy.field}`;
  const desc = orderBy.direction === 'desc';
  const rank = bracketOf(key.value);
  const beyond: mongo.Filter<ReadDocument>[] = [];
  BRACKETS.forEach((type, index) => {
    if (desc ? index >= rank : index <= rank) return;
    beyond.push(type === 'null' ? { [path]: null } : { [path]: { $type: type } });
  });
  if (key.value !== null) beyond.push({ [path]: { [desc ? '$lt' : '$gt']: key.value } });
  return { $or: [...beyond, { [path]: key.value, ...laterId }] } as mongo.Filter<ReadDocument>;
}

/** A stored version below `version`, or none. */
function olderThan(version: number): mongo.Filter<ReadDocument>[] {
  return [{ version: { $exists: false } }, { version: { $lt: version } }];
}
