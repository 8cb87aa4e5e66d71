import type Redis from 'ioredis';
import { shownValue } from '../config/shown-value';
import { refuseClientKeyPrefix } from './redis.client-prefix';
import {
  CLEAR_ROWS,
  DELETE_ROW,
  PURGE_EXPIRED,
  PUT_ROW,
  RECORD_INDEXED,
  REINDEX_ROWS,
} from './redis.read-store.scripts';
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
  countValues,
  fieldOf,
  matches,
  page,
  pageAnswer,
  storedRow,
} from '../read-stores/read-store.rules';

export interface RedisReadStoreOptions<Row extends object = ReadRow> {
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
   *
   * The list is part of the data: rows written before a field was added are in none of its
   * sets. So the first init() or put records it under the prefix, and a store with another list
   * (in any order) is refused, naming both: at init(), at every put (also of a process that
   * started before the change) and at every find/count/countBy. Change it with reindex().
   */
  indexed?: readonly RowField<Row>[];
}

/** Rows per MGET: bounds one reply when a query matches many rows. */
const READ_BATCH = 500;
/** Expired rows per purgeExpired script: a few ms of Redis each, however large the backlog. */
const PURGE_BATCH = 1_000;
/** Ids per reindex() step (SSCAN's COUNT hint, one MGET and one script each). */
const REINDEX_BATCH = 500;

/**
 * Redis read store (S2-6): a string key per row (its JSON), MGET for getMany, a ttl as the
 * key's own expiry (PEXPIREAT), and a set of ids per value of each indexed field. A write, its
 * index sets and its expiry are one script (redis.read-store.scripts.ts), so a versioned put is
 * atomic: concurrent writers of a row end with the newest version.
 *
 * A query reads the ids from the index sets of its most selective field (the one whose sets
 * hold fewest ids), then the rows (MGET), and checks each row against the whole query: a row
 * changed or expired between the two reads is never returned for values it no longer holds. The
 * cost of find/count/countBy grows with the rows that field matches (they are read to be
 * ordered, counted and grouped): this store is for read models that fit a query in memory.
 *
 * The `indexed` list is recorded under the prefix and checked by every put and query (see
 * options.indexed); reindex() changes it.
 *
 * One node (no hash tags: not for Redis Cluster), as the other Redis stores.
 */
export class RedisReadStore<Row extends object = ReadRow> implements ReadStore<Row> {
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly indexed: ReadonlySet<string>;
  /** The sorted list as recorded in the meta hash (JSON). */
  private readonly indexedList: string;

  constructor(options: RedisReadStoreOptions<NoInfer<Row>>) {
    if (typeof options?.client?.eval !== 'function')
      throw new TypeError('RedisReadStore: options.client must be a connected ioredis client');
    refuseClientKeyPrefix(options.client, 'RedisReadStore');
    if (typeof options.keyPrefix !== 'string' || options.keyPrefix === '')
      throw new TypeError('RedisReadStore: options.keyPrefix must be a non-empty string');
    if (options.indexed !== undefined && !Array.isArray(options.indexed))
      throw new TypeError(
        `RedisReadStore: options.indexed must be an array of field names, got ${shownValue(options.indexed)}`,
      );
    (options.indexed ?? []).forEach((field, index) =>
      checkField(field, `RedisReadStore: options.indexed[${index}]`),
    );
    this.client = options.client;
    this.prefix = options.keyPrefix;
    this.indexed = new Set(options.indexed);
    this.indexedList = JSON.stringify([...this.indexed].sort());
  }

  /**
   * Records the `indexed` list when none is (keys come with the first put).
   * @throws Error when the rows were indexed for another list (see options.indexed)
   */
  async init(): Promise<void> {
    const recorded = await RECORD_INDEXED.run(this.client, [this.metaKey()], [this.indexedList]);
    if (recorded !== this.indexedList) throw this.otherList(String(recorded));
  }

  /**
   * Rebuilds the index sets for this store's `indexed` list and records it, to change the list
   * deliberately: once, from one process with the new list, before the others run it (a process
   * with the old list is refused from the start of it). Walks the ids in batches of
   * REINDEX_BATCH rows (a script each), so Redis serves others meanwhile; puts during it index
   * by the new list. Until it has run to the end (again, if it stopped), queries are refused.
   * @returns how many rows it re-indexed
   */
  async reindex(): Promise<number> {
    const meta = this.metaKey();
    await this.client.hset(meta, 'indexed', this.indexedList, 'reindexing', '1');
    const fields = [...this.indexed];
    let done = 0;
    let cursor = '0';
    do {
      const [next, ids] = await this.client.sscan(
        `${this.prefix}ids`,
        cursor,
        'COUNT',
        REINDEX_BATCH,
      );
      cursor = next;
      if (ids.length === 0) continue;
      const stored = await this.client.mget(...ids.map((id) => this.rowKey(id)));
      const args: string[] = [];
      ids.forEach((id, index) => {
        const value = stored[index];
        if (value === null || value === undefined) return;
        const row = parsed<ReadRow>(value);
        args.push(id, value, ...fields.map((field) => this.indexKey(field, fieldOf(row, field))));
      });
      if (args.length > 0)
        done += Number(
          await REINDEX_ROWS.run(this.client, [], [this.prefix, fields.length, ...args]),
        );
    } while (cursor !== '0');
    await this.client.hdel(meta, 'reindexing');
    return done;
  }

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
    const { json, row: stored } = storedRow(row);
    checkPutOptions(options);
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
        this.indexedList,
        ...indexKeys,
      ],
    );
    if (Array.isArray(wrote)) throw this.otherList(String(wrote[1]));
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

  async find(query?: ReadQuery<Row>): Promise<Row[]> {
    return (await this.findPage(query)).rows;
  }

  async findPage(query?: ReadQuery<Row>): Promise<ReadPage<Row>> {
    const checked = checkQuery(query);
    return pageAnswer(page(await this.matching(checked.where), checked), checked);
  }

  async count(where?: ReadWhere<Row>): Promise<number> {
    return (await this.matching(checkWhere(where))).length;
  }

  async countBy(field: RowField<Row>, where?: ReadWhere<Row>): Promise<ValueCount[]> {
    checkField(field, 'field');
    this.checkIndexed(field, 'countBy field');
    const rows = await this.matching(checkWhere(where));
    return countValues(
      rows.map(([, row]) => row),
      field,
    );
  }

  /**
   * Removes every row in scripts of PURGE_BATCH rows (other commands run between), until none is
   * left: a row put meanwhile may be removed too, as if put before the clear. Bounded by
   * the rows there were at the start plus one batch, so writers that keep adding cannot hold it.
   */
  async clear(): Promise<void> {
    const rows = await this.client.scard(`${this.prefix}ids`);
    let removed = 0;
    for (;;) {
      const [cleared, more] = (await CLEAR_ROWS.run(
        this.client,
        [],
        [this.prefix, PURGE_BATCH],
      )) as [number, number];
      removed += cleared;
      if (more === 0 || removed > rows) return;
    }
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

  /** The live rows the where matches, with their ids; refused when the index sets do not fit. */
  private async matching(where: Map<string, FieldValue[]>): Promise<[string, Row][]> {
    for (const field of where.keys()) this.checkIndexed(field, `where.${field}`);
    // The meta is read beside the query (no extra round trip before it).
    const [rows] = await Promise.all([this.lookUp(where), this.checkRecorded()]);
    return rows;
  }

  /** Refuses a query when the index sets were built for another list, or are being rebuilt. */
  private async checkRecorded(): Promise<void> {
    const [recorded, reindexing] = await this.client.hmget(this.metaKey(), 'indexed', 'reindexing');
    if (typeof recorded === 'string' && recorded !== this.indexedList)
      throw this.otherList(recorded);
    if (typeof reindexing === 'string')
      throw new Error(
        `RedisReadStore: a reindex() to ${this.indexedList} of the rows under ` +
          `${JSON.stringify(this.prefix)} has not finished (it runs, or it stopped: run it again); queries would miss rows`,
      );
  }

  private otherList(recorded: string): Error {
    return new Error(
      `RedisReadStore: options.indexed is ${this.indexedList}, but the rows under ` +
        `${JSON.stringify(this.prefix)} are indexed by ${recorded}: its queries would miss rows. ` +
        'To change the list, call reindex() once on a store with the new list (it rebuilds the ' +
        'index sets and records the list), and run only processes with that list; or use a new ' +
        'keyPrefix',
    );
  }

  /**
   * The ids of the field whose index sets hold the fewest (their sizes first, sent at once, when
   * the where has more than one field: one field's ids are read at once), then those rows,
   * checked against the whole where: the other conditions are applied to the rows read, so a
   * query reads as many ids and rows as its most selective condition matches, not every id of
   * each (a `{ status: 'active', owner }` read every active id before).
   */
  private async lookUp(where: Map<string, FieldValue[]>): Promise<[string, Row][]> {
    let candidates: string[];
    if (where.size === 0) candidates = await this.client.smembers(`${this.prefix}ids`);
    else {
      const keysOf = [...where].map(([field, values]) =>
        values.map((value) => this.indexKey(field, value)),
      );
      const keys = where.size === 1 ? keysOf[0]! : await this.fewestIds(keysOf);
      if (keys.length === 0) return [];
      candidates =
        keys.length === 1
          ? await this.client.smembers(keys[0]!)
          : await this.client.sunion(...keys);
    }
    return (await this.read(candidates)).filter(([, row]) => matches(row, where));
  }

  /** Of each field's index keys, those whose sets hold the fewest ids ([] when they hold none). */
  private async fewestIds(keysOf: string[][]): Promise<string[]> {
    const sizes = await Promise.all(
      keysOf.map(async (keys) =>
        (await Promise.all(keys.map((key) => this.client.scard(key)))).reduce(
          (sum, size) => sum + size,
          0,
        ),
      ),
    );
    const fewest = sizes.indexOf(Math.min(...sizes));
    return sizes[fewest] === 0 ? [] : keysOf[fewest]!;
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

  private metaKey(): string {
    return `${this.prefix}meta`;
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
