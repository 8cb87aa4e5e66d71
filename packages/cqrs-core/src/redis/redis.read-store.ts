import type Redis from 'ioredis';
import { refuseClientKeyPrefix } from './redis.client-prefix';
import { CLEAR_ROWS, DELETE_ROW, PURGE_EXPIRED, PUT_ROW } from './redis.read-store.scripts';
import {
  type DeleteRowOptions,
  type FieldValue,
  type PutRowOptions,
  type ReadQuery,
  type ReadRow,
  type ReadStore,
  type ReadWhere,
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
  countValues,
  fieldOf,
  matches,
  page,
  rowJson,
} from '../read-stores/read-store.rules';

export interface RedisReadStoreOptions {
  /**
   * A connected ioredis client (e.g. `redisConnection(...).client`); the store does not close it.
   * Without ioredis' own `keyPrefix` option (refused: the scripts build keys ioredis would not
   * prefix): give the whole prefix as `keyPrefix` here.
   */
  client: Redis;
  /** Prefix of every key of this store, e.g. `myapp:trainer-positions:`; one prefix per store. */
  keyPrefix: string;
  /**
   * The top-level fields `find`/`count`/`countBy` may filter or group by: each write keeps a set
   * of ids per value of these. A query on another field is refused (naming it). orderBy may use
   * any field: the matching rows are sorted after they are read.
   */
  indexed?: readonly string[];
}

/** Rows per MGET: bounds one reply when a query matches many rows. */
const READ_BATCH = 500;
/** Expired rows per purgeExpired script: a few ms of Redis each, however large the backlog. */
const PURGE_BATCH = 1_000;

/**
 * Redis read store (S2-6): a string key per row (its JSON), MGET for getMany, a ttl as the
 * key's own expiry (PEXPIREAT), and a set of ids per value of each indexed field. A write, its
 * index sets and its expiry are one script (redis.read-store.scripts.ts), so a versioned put is
 * atomic: concurrent writers of a row end with the newest version.
 *
 * A query reads the ids from the index sets, then the rows (MGET), and checks each row against
 * the query again: a row changed or expired between the two reads is never returned for values
 * it no longer holds. The cost of find/count/countBy grows with the rows matched (they are read
 * to be ordered, counted and grouped): this store is for read models that fit a query in memory.
 *
 * One node (no hash tags: not for Redis Cluster), as the other Redis stores.
 */
export class RedisReadStore<Row extends ReadRow = ReadRow> implements ReadStore<Row> {
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly indexed: ReadonlySet<string>;

  constructor(options: RedisReadStoreOptions) {
    if (typeof options?.client?.eval !== 'function')
      throw new TypeError('RedisReadStore: options.client must be a connected ioredis client');
    refuseClientKeyPrefix(options.client, 'RedisReadStore');
    if (typeof options.keyPrefix !== 'string' || options.keyPrefix === '')
      throw new TypeError('RedisReadStore: options.keyPrefix must be a non-empty string');
    (options.indexed ?? []).forEach((field, index) =>
      checkField(field, `RedisReadStore: options.indexed[${index}]`),
    );
    this.client = options.client;
    this.prefix = options.keyPrefix;
    this.indexed = new Set(options.indexed);
  }

  /** Nothing to create: keys come with the first put. */
  async init(): Promise<void> {}

  async get(id: string): Promise<Row | undefined> {
    checkId(id);
    const stored = await this.client.get(this.rowKey(id));
    return stored === null ? undefined : parsed<Row>(stored);
  }

  async getMany(ids: readonly string[]): Promise<Row[]> {
    checkIds(ids);
    return (await this.read(ids)).map(([, row]) => row);
  }

  async put(id: string, row: Row, options?: PutRowOptions): Promise<boolean> {
    checkId(id);
    const json = rowJson(row);
    checkPutOptions(options);
    const stored = JSON.parse(json) as ReadRow;
    const indexKeys = [...this.indexed].map((field) =>
      this.indexKey(field, fieldOf(stored, field)),
    );
    const wrote = await PUT_ROW.run(
      this.client,
      [this.rowKey(id)],
      [
        this.prefix,
        id,
        `${options?.version ?? ''}|${json}`,
        options?.version ?? '',
        options?.ttlMs ?? '',
        ...indexKeys,
      ],
    );
    return wrote === 1;
  }

  async delete(id: string, options?: DeleteRowOptions): Promise<boolean> {
    checkId(id);
    checkDeleteOptions(options);
    const deleted = await DELETE_ROW.run(
      this.client,
      [this.rowKey(id)],
      [this.prefix, id, options?.version ?? ''],
    );
    return deleted === 1;
  }

  async find(query?: ReadQuery): Promise<Row[]> {
    const checked = checkQuery(query);
    return page(await this.matching(checked.where), checked);
  }

  async count(where?: ReadWhere): Promise<number> {
    return (await this.matching(checkWhere(where))).length;
  }

  async countBy(field: string, where?: ReadWhere): Promise<ValueCount[]> {
    checkField(field, 'field');
    this.checkIndexed(field, 'countBy field');
    const rows = await this.matching(checkWhere(where));
    return countValues(
      rows.map(([, row]) => row),
      field,
    );
  }

  async clear(): Promise<void> {
    await CLEAR_ROWS.run(this.client, [], [this.prefix]);
  }

  /** Removes every expired row, in scripts of PURGE_BATCH rows (other commands run between). */
  async purgeExpired(): Promise<number> {
    let total = 0;
    for (;;) {
      const [purged, more] = (await PURGE_EXPIRED.run(
        this.client,
        [],
        [this.prefix, PURGE_BATCH],
      )) as [number, number];
      total += purged;
      if (more === 0) return total;
    }
  }

  async close(): Promise<void> {}

  /** The live rows the where matches, with their ids. */
  private async matching(where: Map<string, FieldValue[]>): Promise<[string, Row][]> {
    for (const field of where.keys()) this.checkIndexed(field, `where.${field}`);
    let ids: Set<string> | undefined;
    for (const [field, values] of where) {
      const keys = values.map((value) => this.indexKey(field, value));
      const found = keys.length === 0 ? [] : await this.client.sunion(...keys);
      ids = ids ? new Set(found.filter((id) => ids!.has(id))) : new Set(found);
      if (ids.size === 0) return [];
    }
    const candidates = ids ? [...ids] : await this.client.smembers(`${this.prefix}ids`);
    return (await this.read(candidates)).filter(([, row]) => matches(row, where));
  }

  /** The rows of the ids that still exist, in the order of ids. */
  private async read(ids: readonly string[]): Promise<[string, Row][]> {
    const found: [string, Row][] = [];
    for (let start = 0; start < ids.length; start += READ_BATCH) {
      const batch = ids.slice(start, start + READ_BATCH);
      const stored = await this.client.mget(...batch.map((id) => this.rowKey(id)));
      stored.forEach((value, index) => {
        if (value !== null) found.push([batch[index]!, parsed<Row>(value)]);
      });
    }
    return found;
  }

  private checkIndexed(field: string, name: string): void {
    if (!this.indexed.has(field))
      throw new TypeError(
        `RedisReadStore: ${name} is not an indexed field; declare "${field}" in options.indexed to query by it (indexed: ${[...this.indexed].join(', ') || 'none'})`,
      );
  }

  private rowKey(id: string): string {
    return `${this.prefix}r:${id}`;
  }

  private indexKey(field: string, value: FieldValue): string {
    return `${this.prefix}i:${JSON.stringify([field, value])}`;
  }
}

/** The row of a stored value ("<version>|<json>"). */
function parsed<Row>(stored: string): Row {
  return JSON.parse(stored.slice(stored.indexOf('|') + 1)) as Row;
}
