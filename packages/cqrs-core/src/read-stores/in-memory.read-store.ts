import {
  type DeleteRowOptions,
  type PutRowOptions,
  type ReadPage,
  type ReadQuery,
  type ReadRow,
  type ReadStore,
  type ReadWhere,
  type RowField,
  type ValueCount,
} from './read-store.port';
import {
  checkDeleteOptions,
  checkField,
  checkId,
  checkIds,
  checkPutOptions,
  checkQuery,
  checkWhere,
  countValues,
  matches,
  page,
  pageAnswer,
  storedRow,
} from './read-store.rules';

interface Entry {
  /** The row's JSON: every read parses a fresh copy, as a server-backed store would. */
  json: string;
  version?: number;
  expiresAt?: number;
}

/**
 * ReadStore in a Map, for tests and single-process use (the embedded mode). Every operation is
 * synchronous inside, so a versioned put is atomic. Expired rows are skipped on read and dropped
 * when met (or by purgeExpired).
 */
export class InMemoryReadStore<Row extends object = ReadRow> implements ReadStore<Row> {
  private readonly rows = new Map<string, Entry>();

  async init(): Promise<void> {}

  async get(id: string): Promise<Row | undefined> {
    checkId(id);
    const entry = this.live(id);
    return entry && (JSON.parse(entry.json) as Row);
  }

  async getMany(ids: readonly string[]): Promise<Row[]> {
    checkIds(ids);
    return ids.flatMap((id) => {
      const entry = this.live(id);
      return entry ? [JSON.parse(entry.json) as Row] : [];
    });
  }

  async put(id: string, row: Row, options?: PutRowOptions): Promise<boolean> {
    checkId(id);
    const { json } = storedRow(row);
    checkPutOptions(options);
    const stored = this.live(id);
    if (isNewer(stored, options?.version)) return false;
    this.rows.set(id, {
      json,
      version: options?.version,
      expiresAt: options?.ttlMs === undefined ? undefined : Date.now() + options.ttlMs,
    });
    return true;
  }

  async delete(id: string, options?: DeleteRowOptions): Promise<boolean> {
    checkId(id);
    checkDeleteOptions(options);
    const stored = this.live(id);
    if (!stored || isNewer(stored, options?.version)) return false;
    return this.rows.delete(id);
  }

  async find(query?: ReadQuery<Row>): Promise<Row[]> {
    return (await this.findPage(query)).rows;
  }

  async findPage(query?: ReadQuery<Row>): Promise<ReadPage<Row>> {
    const checked = checkQuery(query);
    return pageAnswer(page(this.matching(checked.where), checked), checked);
  }

  async count(where?: ReadWhere<Row>): Promise<number> {
    return this.matching(checkWhere(where)).length;
  }

  async countBy(field: RowField<Row>, where?: ReadWhere<Row>): Promise<ValueCount[]> {
    checkField(field, 'field');
    return countValues(
      this.matching(checkWhere(where)).map(([, row]) => row),
      field,
    );
  }

  async clear(): Promise<void> {
    this.rows.clear();
  }

  async purgeExpired(): Promise<number> {
    let purged = 0;
    for (const id of [...this.rows.keys()]) if (!this.live(id)) purged++;
    return purged;
  }

  async close(): Promise<void> {}

  /** The entry unless it expired (then it is dropped). */
  private live(id: string): Entry | undefined {
    const entry = this.rows.get(id);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.rows.delete(id);
      return undefined;
    }
    return entry;
  }

  private matching(where: ReturnType<typeof checkWhere>): [string, Row][] {
    const found: [string, Row][] = [];
    for (const id of [...this.rows.keys()]) {
      const entry = this.live(id);
      if (!entry) continue;
      const row = JSON.parse(entry.json) as Row;
      if (matches(row, where)) found.push([id, row]);
    }
    return found;
  }
}

/** True when the stored row has a version at or above the one given (the write must not land). */
function isNewer(stored: Entry | undefined, version: number | undefined): boolean {
  return version !== undefined && stored?.version !== undefined && stored.version >= version;
}
