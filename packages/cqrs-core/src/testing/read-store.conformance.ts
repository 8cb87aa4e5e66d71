import {
  MAX_TTL_MS,
  type ReadPage,
  type ReadQuery,
  type ReadRow,
  type ReadStore,
} from '../read-stores/read-store.port';
import { expectRefusal, refusal } from './refusal.expectation';

export interface ReadStoreFactoryOptions {
  /**
   * The fields the suite queries (where, countBy): declared as indexed where the backend needs
   * it (Redis), given as indexes elsewhere (MongoDB).
   */
  indexed: readonly string[];
}

/**
 * Creates an empty store of its own (a fresh collection or key prefix per call); the suite calls
 * init() and close() on it.
 */
export type ReadStoreFactory = (options: ReadStoreFactoryOptions) => ReadStore | Promise<ReadStore>;

/** What a backend guarantees beyond the common contract (the suite checks what is declared). */
export interface ReadStoreFeatures {
  /**
   * Versioned puts of one row from concurrent writers end with the newest version (the compare
   * and the write are atomic). False for MongoReadStore on FerretDB (ADR 006), where one writer
   * per row is assumed.
   */
  concurrentWriters: boolean;
  /**
   * The store knows the fields queries may name (the factory's `indexed`: RedisReadStore's
   * `indexed`, MongoReadStore's `fields`) and refuses another one with a TypeError naming it,
   * instead of matching no row. InMemoryReadStore takes no such list.
   */
  declaredFields?: boolean;
}

/** The fields the suite's queries use. */
const INDEXED = ['status', 'rank', 'owner'] as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The ttls a test of expiry tries, shortest first. A test's puts and reads must all end before
 * its rows expire; on a loaded machine they take longer than the shortest ttl (a read 300 ms
 * after the put found the row gone), so the test runs again with the next.
 */
const TTL_LADDER_MS = [300, 3_000, 15_000] as const;
/** A test of expiry may run every rung of TTL_LADDER_MS, and wait for the last one. */
const EXPIRY_TEST_TIMEOUT_MS = 60_000;

/**
 * Runs `attempt(ttlMs)` (puts rows with that ttl and reads what the test checks before expiry)
 * with the first ttl of TTL_LADDER_MS it finishes within, counted from before its first put, so
 * every read it made came before the rows expired. Gives its result and when it ended.
 */
async function beforeExpiry<T>(
  attempt: (ttlMs: number) => Promise<T>,
): Promise<{ ttlMs: number; endedAt: number; result: T }> {
  const took: number[] = [];
  for (const ttlMs of TTL_LADDER_MS) {
    const startedAt = Date.now();
    const result = await attempt(ttlMs);
    const endedAt = Date.now();
    if (endedAt - startedAt < ttlMs) return { ttlMs, endedAt, result };
    took.push(endedAt - startedAt);
  }
  throw new Error(
    `puts and reads took longer than their ttl on every try (ttls ${TTL_LADDER_MS.join(', ')} ms, took ${took.join(', ')} ms)`,
  );
}

/**
 * Resolves once `gone()` holds, polling from just before `from + ttlMs`. Fails when it still
 * does not for a check asked more than a second after that (the rows expired by then: `from` is
 * after their puts).
 */
async function expiredBy(
  gone: () => Promise<boolean>,
  from: number,
  ttlMs: number,
  what: string,
): Promise<void> {
  await sleep(Math.max(0, from + ttlMs - 100 - Date.now()));
  for (;;) {
    const askedAt = Date.now();
    if (await gone()) return;
    if (askedAt > from + ttlMs + 1_000)
      throw new Error(
        `${what} still readable ${askedAt - from} ms after their puts (ttl ${ttlMs} ms)`,
      );
    await sleep(25);
  }
}

/**
 * The read store contract (see ReadStore), run once per backend:
 * `describeReadStoreConformance('redis', (options) => new RedisReadStore({ client, keyPrefix, ...options }))`.
 */
export function describeReadStoreConformance(
  name: string,
  factory: ReadStoreFactory,
  features: ReadStoreFeatures = { concurrentWriters: true },
): void {
  describe(`ReadStore conformance: ${name}`, () => {
    const open: ReadStore[] = [];
    async function store(): Promise<ReadStore> {
      const created = await factory({ indexed: INDEXED });
      open.push(created);
      await created.init();
      return created;
    }
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    /** Five trainers: ids t1…t5, statuses, ranks (t5 has none) and owners. */
    async function seeded(): Promise<ReadStore> {
      const s = await store();
      await s.put('t1', { name: 'Ash', status: 'active', rank: 3, owner: 'kanto' });
      await s.put('t2', { name: 'Misty', status: 'resting', rank: 1, owner: 'kanto' });
      await s.put('t3', { name: 'Brock', status: 'active', rank: 2, owner: 'kanto' });
      await s.put('t4', { name: 'Gary', status: 'away', rank: 5, owner: 'johto' });
      await s.put('t5', { name: 'May', status: 'active', owner: 'hoenn' });
      return s;
    }
    const names = (rows: ReadRow[]) => rows.map((row) => row.name);

    it('puts, gets and replaces a row; getMany keeps the order of ids and skips missing ones', async () => {
      const s = await store();
      await s.init();
      await expect(s.get('t1')).resolves.toBeUndefined();
      await expect(s.put('t1', { name: 'Ash', rank: 1 })).resolves.toBe(true);
      await s.put('t2', { name: 'Misty' });
      await expect(s.get('t1')).resolves.toEqual({ name: 'Ash', rank: 1 });
      await expect(s.put('t1', { name: 'Ash Ketchum' })).resolves.toBe(true);
      // A put replaces the whole row: no field of the old one stays.
      await expect(s.get('t1')).resolves.toEqual({ name: 'Ash Ketchum' });
      await expect(s.getMany(['t2', 'nobody', 't1', 't2'])).resolves.toEqual([
        { name: 'Misty' },
        { name: 'Ash Ketchum' },
        { name: 'Misty' },
      ]);
      await expect(s.getMany([])).resolves.toEqual([]);
    });

    it('keeps a row written with a version against older and equal versions (redelivery)', async () => {
      const s = await store();
      await expect(s.put('t1', { name: 'v5' }, { version: 5 })).resolves.toBe(true);
      await expect(s.put('t1', { name: 'v3' }, { version: 3 })).resolves.toBe(false);
      await expect(s.put('t1', { name: 'v5 again' }, { version: 5 })).resolves.toBe(false);
      await expect(s.get('t1')).resolves.toEqual({ name: 'v5' });
      await expect(s.put('t1', { name: 'v6' }, { version: 6 })).resolves.toBe(true);
      await expect(s.get('t1')).resolves.toEqual({ name: 'v6' });
      // A put without a version always writes, and the row then takes any versioned put.
      await expect(s.put('t1', { name: 'plain' })).resolves.toBe(true);
      await expect(s.put('t1', { name: 'v2' }, { version: 2 })).resolves.toBe(true);
      await expect(s.get('t1')).resolves.toEqual({ name: 'v2' });
    });

    it('ends with the newest version after one writer puts versions in any order', async () => {
      const s = await store();
      const versions = [4, 2, 7, 7, 1, 9, 3, 8];
      const wrote: boolean[] = [];
      for (const version of versions) wrote.push(await s.put('t1', { version }, { version }));
      expect(wrote).toEqual([true, false, true, false, false, true, false, false]);
      await expect(s.get('t1')).resolves.toEqual({ version: 9 });
    });

    if (features.concurrentWriters)
      it('ends with the newest version after concurrent versioned puts', async () => {
        const s = await store();
        const versions = Array.from({ length: 30 }, (_, i) => i + 1).sort(
          () => Math.random() - 0.5,
        );
        const wrote = await Promise.all(
          versions.map((version) => s.put('t1', { version }, { version })),
        );
        await expect(s.get('t1')).resolves.toEqual({ version: 30 });
        expect(wrote.filter(Boolean).length).toBeGreaterThanOrEqual(1);
      });

    it('keeps indexes true when a put changes a queried field', async () => {
      const s = await seeded();
      await s.put('t1', { name: 'Ash', status: 'resting', rank: 3, owner: 'kanto' });
      expect(names(await s.find({ where: { status: 'active' } }))).toEqual(['Brock', 'May']);
      expect(names(await s.find({ where: { status: 'resting' } }))).toEqual(['Ash', 'Misty']);
    });

    it('deletes a row, and with a version only when the stored one is older', async () => {
      const s = await seeded();
      await expect(s.delete('t1')).resolves.toBe(true);
      await expect(s.delete('t1')).resolves.toBe(false);
      await expect(s.get('t1')).resolves.toBeUndefined();
      await expect(s.count({ status: 'active' })).resolves.toBe(2);
      await s.put('v', { name: 'versioned' }, { version: 4 });
      await expect(s.delete('v', { version: 4 })).resolves.toBe(false);
      await expect(s.delete('v', { version: 3 })).resolves.toBe(false);
      await expect(s.get('v')).resolves.toEqual({ name: 'versioned' });
      await expect(s.delete('v', { version: 5 })).resolves.toBe(true);
      await expect(s.get('v')).resolves.toBeUndefined();
      // No tombstone: an older put redelivered after the delete writes the row again.
      await expect(s.put('v', { name: 'late' }, { version: 2 })).resolves.toBe(true);
    });

    it('finds by equality and by in, ordered by id when no order is given', async () => {
      const s = await seeded();
      expect(names(await s.find())).toEqual(['Ash', 'Misty', 'Brock', 'Gary', 'May']);
      expect(names(await s.find({ where: { status: 'active' } }))).toEqual(['Ash', 'Brock', 'May']);
      expect(names(await s.find({ where: { status: 'active', owner: 'kanto' } }))).toEqual([
        'Ash',
        'Brock',
      ]);
      expect(names(await s.find({ where: { status: { in: ['away', 'resting'] } } }))).toEqual([
        'Misty',
        'Gary',
      ]);
      expect(names(await s.find({ where: { rank: 2 } }))).toEqual(['Brock']);
      expect(names(await s.find({ where: { rank: '2' } }))).toEqual([]);
      expect(names(await s.find({ where: { status: 'gone' } }))).toEqual([]);
      expect(names(await s.find({ where: { status: { in: [] } } }))).toEqual([]);
      // A missing field is null.
      expect(names(await s.find({ where: { rank: null } }))).toEqual(['May']);
      expect(names(await s.find({ where: { rank: { in: [null, 5] } } }))).toEqual(['Gary', 'May']);
    });

    it('orders by a field either way (missing first ascending), then pages with limit and offset', async () => {
      const s = await seeded();
      expect(names(await s.find({ orderBy: { field: 'rank' } }))).toEqual([
        'May',
        'Misty',
        'Brock',
        'Ash',
        'Gary',
      ]);
      expect(names(await s.find({ orderBy: { field: 'rank', direction: 'desc' } }))).toEqual([
        'Gary',
        'Ash',
        'Brock',
        'Misty',
        'May',
      ]);
      // Ties by id: t1 Ash, t3 Brock, t5 May.
      expect(names(await s.find({ orderBy: { field: 'status' } }))).toEqual([
        'Ash',
        'Brock',
        'May',
        'Gary',
        'Misty',
      ]);
      expect(names(await s.find({ orderBy: { field: 'name' }, limit: 2 }))).toEqual([
        'Ash',
        'Brock',
      ]);
      expect(names(await s.find({ orderBy: { field: 'name' }, limit: 2, offset: 2 }))).toEqual([
        'Gary',
        'May',
      ]);
      expect(names(await s.find({ orderBy: { field: 'name' }, offset: 4 }))).toEqual(['Misty']);
      expect(names(await s.find({ limit: 0 }))).toEqual([]);
      expect(
        names(
          await s.find({
            where: { owner: 'kanto' },
            orderBy: { field: 'rank', direction: 'desc' },
            limit: 2,
          }),
        ),
      ).toEqual(['Ash', 'Brock']);
    });

    /** Every row of the query, page by page of `limit` through `next`. */
    async function readPaged(
      s: ReadStore,
      query: Omit<ReadQuery, 'after' | 'limit'>,
      limit: number,
      between: (page: number) => Promise<void> = async () => {},
    ): Promise<unknown[]> {
      const seen: unknown[] = [];
      let after: string | undefined;
      for (let page = 0; page < 100; page++) {
        const answer: ReadPage = await s.findPage({ ...query, limit, after });
        seen.push(...answer.rows.map((row) => row.name));
        if (answer.next === undefined) return seen;
        expect(answer.rows).toHaveLength(limit);
        after = answer.next;
        await between(page);
      }
      throw new Error('paging did not end');
    }

    it('pages with after through rows of equal sort keys, each row once, either way', async () => {
      const s = await store();
      // Ids put out of order, all with one status: only the id orders them.
      for (const id of ['e', 'b', 'g', 'a', 'f', 'c', 'd'])
        await s.put(id, { name: id, status: 'same', rank: 1 });
      for (const direction of ['asc', 'desc'] as const) {
        const query = { orderBy: { field: 'status', direction } };
        for (const limit of [1, 2, 3, 7])
          expect(await readPaged(s, query, limit)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
      }
      expect(await readPaged(s, {}, 3)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
      expect(await readPaged(s, { where: { rank: 1 } }, 4)).toEqual([
        'a',
        'b',
        'c',
        'd',
        'e',
        'f',
        'g',
      ]);
      // A page that ends the rows gives no next; a full one does.
      await expect(s.findPage({ limit: 7 })).resolves.toMatchObject({ next: expect.any(String) });
      expect((await s.findPage({ limit: 8 })).next).toBeUndefined();
      expect((await s.findPage()).next).toBeUndefined();
    });

    it('pages with after over values of every type in their order, either way', async () => {
      const s = await store();
      // null (and missing) < numbers < strings < booleans, ties by id.
      const ranks: [string, unknown][] = [
        ['n1', null],
        ['n2', undefined],
        ['n3', { nested: 1 }],
        ['m1', -2.5],
        ['m2', 0],
        ['m3', 0],
        ['m4', 10],
        ['s1', ''],
        ['s2', 'B'],
        ['s3', 'a'],
        ['s4', 'a'],
        ['s5', 'é'],
        ['b1', false],
        ['b2', true],
        ['b3', true],
      ];
      for (const [id, rank] of [...ranks].reverse()) await s.put(id, { name: id, rank });
      const ascending = ['n1', 'n2', 'n3', 'm1', 'm2', 'm3', 'm4', 's1', 's2', 's3', 's4', 's5'];
      const asc = [...ascending, 'b1', 'b2', 'b3'];
      // Descending, ties stay by id ascending.
      const desc = ['b2', 'b3', 'b1', 's5', 's3', 's4', 's2', 's1', 'm4', 'm2', 'm3', 'm1'];
      desc.push('n1', 'n2', 'n3');
      expect(names(await s.find({ orderBy: { field: 'rank' } }))).toEqual(asc);
      expect(names(await s.find({ orderBy: { field: 'rank', direction: 'desc' } }))).toEqual(desc);
      for (const limit of [1, 2, 4]) {
        expect(await readPaged(s, { orderBy: { field: 'rank' } }, limit)).toEqual(asc);
        expect(
          await readPaged(s, { orderBy: { field: 'rank', direction: 'desc' } }, limit),
        ).toEqual(desc);
      }
    });

    it('pages with after without skipping or repeating rows when others are put or deleted', async () => {
      for (const direction of ['asc', 'desc'] as const) {
        const s = await seeded();
        await s.put('t6', { name: 'Dawn', status: 'active', rank: 4, owner: 'sinnoh' });
        // By rank: May (none), Misty 1, Brock 2, Ash 3, Dawn 4, Gary 5.
        const order = ['May', 'Misty', 'Brock', 'Ash', 'Dawn', 'Gary'];
        const expected = direction === 'asc' ? order : [...order].reverse();
        const seen = await readPaged(
          s,
          { orderBy: { field: 'rank', direction } },
          2,
          async (page) => {
            if (page !== 0) return;
            // After the first page: a row of it goes, a row before the cursor and one beyond it come.
            const [first] = (await s.find({ orderBy: { field: 'rank', direction }, limit: 1 })) as {
              name: string;
            }[];
            const ids = { May: 't5', Gary: 't4' } as Record<string, string>;
            await s.delete(ids[first!.name]!);
            await s.put('t7', { name: 'Early', rank: direction === 'asc' ? -1 : 99 });
            // Descending, a row without rank (null) with a later id than May's comes last.
            await s.put('t8', { name: 'Late', rank: direction === 'asc' ? 99 : null });
          },
        );
        // Offset paging would have skipped a row here (the deletion shifts the rest back one).
        expect(seen).toEqual([...expected, 'Late']);
      }
    });

    if (features.declaredFields)
      it('refuses a where or countBy field not declared, naming it, instead of matching nothing', async () => {
        const s = await seeded();
        for (const refused of [
          () => s.find({ where: { nme: 'Ash' } }),
          () => s.find({ where: { nme: 'Ash' }, limit: 0 }),
          () => s.count({ status: 'active', nme: { in: ['Ash'] } }),
          () => s.countBy('nme'),
          () => s.countBy('status', { nme: 'Ash' }),
        ]) {
          const error = await refusal(refused());
          expect(error).toBeInstanceOf(TypeError);
          expect((error as Error).message).toMatch(
            / is not a[a-z ]* field; declare "nme" in options\./,
          );
        }
        // The declared fields still query as before.
        await expect(s.count({ status: 'active' })).resolves.toBe(3);
      });

    it('counts matching rows, and counts per value of a field', async () => {
      const s = await seeded();
      await expect(s.count()).resolves.toBe(5);
      await expect(s.count({ owner: 'kanto' })).resolves.toBe(3);
      await expect(s.count({ status: { in: ['active', 'away'] } })).resolves.toBe(4);
      await expect(s.count({ status: 'gone' })).resolves.toBe(0);
      await expect(s.countBy('status')).resolves.toEqual([
        { value: 'active', count: 3 },
        { value: 'away', count: 1 },
        { value: 'resting', count: 1 },
      ]);
      await expect(s.countBy('owner', { status: 'active' })).resolves.toEqual([
        { value: 'hoenn', count: 1 },
        { value: 'kanto', count: 2 },
      ]);
      await expect(s.countBy('rank', { owner: { in: ['hoenn', 'johto'] } })).resolves.toEqual([
        { value: null, count: 1 },
        { value: 5, count: 1 },
      ]);
    });

    it(
      'lets a row with a ttl disappear from every read, and purges it',
      async () => {
        const { ttlMs, endedAt, result } = await beforeExpiry(async (ttlMs) => {
          const s = await seeded();
          const put = await s.put('t6', { name: 'Dawn', status: 'active' }, { ttlMs });
          await s.put('t1', { name: 'Ash', status: 'active', rank: 3, owner: 'kanto' }, { ttlMs });
          return { s, put, t6: await s.get('t6'), active: await s.count({ status: 'active' }) };
        });
        const { s } = result;
        expect(result.put).toBe(true);
        expect(result.t6).toEqual({ name: 'Dawn', status: 'active' });
        expect(result.active).toBe(4);
        await expiredBy(
          async () => (await s.getMany(['t6', 't1'])).length === 0,
          endedAt,
          ttlMs,
          'rows t6 and t1',
        );
        await expect(s.get('t6')).resolves.toBeUndefined();
        await expect(s.getMany(['t6', 't1', 't2'])).resolves.toEqual([
          expect.objectContaining({ name: 'Misty' }),
        ]);
        expect(names(await s.find({ where: { status: 'active' } }))).toEqual(['Brock', 'May']);
        await expect(s.count()).resolves.toBe(4);
        await expect(s.countBy('owner')).resolves.toEqual([
          { value: 'hoenn', count: 1 },
          { value: 'johto', count: 1 },
          { value: 'kanto', count: 2 },
        ]);
        await expect(s.delete('t6')).resolves.toBe(false);
        await s.purgeExpired();
        await expect(s.purgeExpired()).resolves.toBe(0);
        // An expired row takes a put of any version again; a put without ttl keeps it.
        await expect(s.put('t6', { name: 'Dawn again' }, { version: 1 })).resolves.toBe(true);
        await sleep(400);
        await expect(s.get('t6')).resolves.toEqual({ name: 'Dawn again' });
      },
      EXPIRY_TEST_TIMEOUT_MS,
    );

    it('keeps a row written with the largest ttl', async () => {
      const s = await store();
      await expect(s.put('t1', { status: 'x' }, { ttlMs: MAX_TTL_MS })).resolves.toBe(true);
      await expect(s.get('t1')).resolves.toEqual({ status: 'x' });
      await expect(s.count({ status: 'x' })).resolves.toBe(1);
      await expect(s.purgeExpired()).resolves.toBe(0);
    });

    it(
      'purgeExpired says how many rows it removed',
      async () => {
        // Before expiry on every try: a write purges too (Redis), so a put of c after a and b
        // expired left purgeExpired fewer to count.
        const {
          ttlMs,
          endedAt,
          result: s,
        } = await beforeExpiry(async (ttlMs) => {
          const s = await store();
          await s.put('a', { status: 'x' }, { ttlMs });
          await s.put('b', { status: 'x' }, { ttlMs });
          await s.put('c', { status: 'x' });
          return s;
        });
        // Waited out by the clock, not by reads: a read drops the expired row it meets
        // (InMemoryReadStore), which purgeExpired would then not count.
        await sleep(Math.max(0, endedAt + ttlMs + 50 - Date.now()));
        // Counted even where the server dropped the expired data itself (Redis keys): no write
        // ran meanwhile.
        await expect(s.purgeExpired()).resolves.toBe(2);
        await expect(s.count({ status: 'x' })).resolves.toBe(1);
      },
      EXPIRY_TEST_TIMEOUT_MS,
    );

    it('clears every row, after which it is empty and takes puts again', async () => {
      const s = await seeded();
      await s.put('t9', { status: 'active' }, { version: 9, ttlMs: 60_000 });
      await s.clear();
      await expect(s.count()).resolves.toBe(0);
      await expect(s.find({ where: { status: 'active' } })).resolves.toEqual([]);
      await expect(s.countBy('status')).resolves.toEqual([]);
      await expect(s.get('t1')).resolves.toBeUndefined();
      await expect(s.put('t9', { status: 'away' }, { version: 1 })).resolves.toBe(true);
      await expect(s.find({ where: { status: 'away' } })).resolves.toEqual([{ status: 'away' }]);
    });

    it('round-trips unicode and nested data, and ids with any characters', async () => {
      const s = await store();
      const row = {
        name: '지우 Ash 🐉 サトシ',
        status: 'ünïcödé ✓',
        'key.with.dots': { $dollar: 1, 'a.b': [1, [2, [3, { deep: '\u0000nul' }]]] },
        nested: { level1: { level2: { values: [null, true, false, -0.5, 1e21] } } },
        empty: { list: [], object: {} },
        // A NUL in a top-level key (BSON keys cannot hold one: MongoDB keeps it out of `fields`).
        'nul\u0000key': 'kept',
      };
      const id = 'trainer:ash/🐉 {1}*';
      await s.put(id, row);
      await expect(s.get(id)).resolves.toEqual(row);
      await expect(s.getMany([id])).resolves.toEqual([row]);
      await expect(s.find({ where: { status: 'ünïcödé ✓' } })).resolves.toEqual([row]);
      await expect(s.countBy('status')).resolves.toEqual([{ value: 'ünïcödé ✓', count: 1 }]);
    });

    // UTF-16 puts U+FF5E after U+1F409 (its surrogates start at D83D); code points, as the
    // servers compare UTF-8, put it before: every store must order (and page) the latter way.
    it('orders strings and ids by code point, beyond the Basic Multilingual Plane too', async () => {
      const s = await store();
      const values = ['z', 'é', '\uff5e', '🐉', '\u{10ffff}'];
      for (const [index, value] of [...values].reverse().entries())
        await s.put(value, { name: value, status: value, rank: index });
      expect(names(await s.find({ orderBy: { field: 'status' } }))).toEqual(values);
      expect(names(await s.find())).toEqual(values);
      const desc = [...values].reverse();
      for (const limit of [1, 2]) {
        expect(await readPaged(s, { orderBy: { field: 'status' } }, limit)).toEqual(values);
        expect(
          await readPaged(s, { orderBy: { field: 'status', direction: 'desc' } }, limit),
        ).toEqual(desc);
        expect(await readPaged(s, {}, limit)).toEqual(values);
      }
      await expect(s.countBy('status')).resolves.toEqual(
        values.map((value) => ({ value, count: 1 })),
      );
    });

    it('keeps a row of megabytes whole, and queries it by its fields', async () => {
      const s = await store();
      const bulk = '🐉 Ash サトシ '.repeat(150_000); // ~2.4 MB of UTF-8, deep in the row
      const row = {
        name: 'big',
        status: 'large',
        notes: { text: bulk, list: [bulk.slice(0, 99)] },
      };
      await expect(s.put('big', row, { version: 1 })).resolves.toBe(true);
      await expect(s.get('big')).resolves.toEqual(row);
      await expect(s.find({ where: { status: 'large' } })).resolves.toEqual([row]);
      await expect(s.put('big', { ...row, status: 'old' }, { version: 1 })).resolves.toBe(false);
      await expect(s.count({ status: 'large' })).resolves.toBe(1);
    });

    it('treats a field holding an object or an array as null in queries', async () => {
      const s = await store();
      await s.put('a', { status: ['active'], owner: { name: 'kanto' } });
      await s.put('b', { status: 'active', owner: 'kanto' });
      await expect(s.find({ where: { status: 'active' } })).resolves.toEqual([
        { status: 'active', owner: 'kanto' },
      ]);
      await expect(s.count({ status: null, owner: null })).resolves.toBe(1);
    });

    // Redis and MongoDB keep ids as UTF-8, where a lone surrogate becomes U+FFFD: accepted, the
    // two ids below shared one row there (mallory's put replaced alice's).
    it('refuses ids that are not well-formed Unicode, so no two ids share a row', async () => {
      const s = await store();
      const message = (id: string) =>
        `id must be well-formed Unicode (a lone UTF-16 surrogate has no UTF-8 form), got ${JSON.stringify(id)}`;
      for (const [id, owner] of [
        ['user-\ud800', 'alice'],
        ['user-\ud801', 'mallory'],
      ] as const)
        expectRefusal(await refusal(s.put(id, { owner })), TypeError, message(id));
      await expect(s.count()).resolves.toBe(0);
      await expect(s.get('user-\ufffd')).resolves.toBeUndefined();
      // Surrogate pairs (emoji) are well-formed: such ids are rows like any other.
      await expect(s.put('user-🐉', { owner: 'ash' })).resolves.toBe(true);
      await expect(s.getMany(['user-🐉'])).resolves.toEqual([{ owner: 'ash' }]);
    });

    // Queries see top-level strings as the servers keep them, UTF-8, where a lone surrogate
    // becomes U+FFFD: 'x\uD800' matched 'x\uD801' on Redis and MongoDB, not in memory.
    it('refuses a top-level string that is not well-formed Unicode; deeper ones round-trip', async () => {
      const s = await factory({ indexed: [...INDEXED, 'top\ufffd'] });
      open.push(s);
      await s.init();
      expectRefusal(
        await refusal(s.put('a', { status: 'on', owner: 'x\ud800' })),
        TypeError,
        'row.owner must be well-formed Unicode (a lone UTF-16 surrogate has no UTF-8 form), got "x\\ud800"',
      );
      await expect(s.count()).resolves.toBe(0);
      // Deeper strings, and top-level keys no query may name, live in the row's JSON text, which
      // escapes a lone surrogate (\ud800): every store gives them back as written.
      const row = { owner: 'x', notes: ['x\ud800', { 'k\udc00': 'v\ud801' }], 'top\ud800': 1 };
      await s.put('b', row);
      await expect(s.get('b')).resolves.toEqual(row);
      await expect(s.find({ where: { owner: 'x' } })).resolves.toEqual([row]);
      // Such a key is no field of the row's queries (MongoDB would have kept it as 'top\uFFFD').
      await expect(s.put('c', { 'top\ufffd': 1 })).resolves.toBe(true);
      await expect(s.find({ where: { 'top\ufffd': 1 } })).resolves.toEqual([{ 'top\ufffd': 1 }]);
      await expect(s.countBy('top\ufffd')).resolves.toEqual([
        { value: null, count: 1 },
        { value: 1, count: 1 },
      ]);
    });

    // A row parsed from JSON may hold an own `__proto__` member, which MongoDB's queried fields
    // lost (assigned, it sets the prototype): its queries found nothing that the others found.
    // Documents refuse the key; rows refuse it where queries would read it, at the top.
    it('refuses a top-level field named __proto__; deeper ones round-trip', async () => {
      const s = await store();
      const row = JSON.parse('{"__proto__": "x", "status": "on"}') as ReadRow;
      expectRefusal(
        await refusal(s.put('a', row)),
        TypeError,
        "row's top-level field name must not be __proto__ (an object's prototype, not a field: rows cannot hold it); rename it",
      );
      await expect(s.count()).resolves.toBe(0);
      const deeper = JSON.parse('{"status": "on", "meta": {"__proto__": "x"}}') as ReadRow;
      await s.put('b', deeper);
      await expect(s.get('b')).resolves.toEqual(deeper);
      await expect(s.find({ where: { status: 'on' } })).resolves.toEqual([deeper]);
    });

    describe('refuses bad input with a TypeError naming it, changing nothing', () => {
      const cases: [string, (s: ReadStore) => Promise<unknown>, string][] = [
        ['an empty id', (s) => s.put('', { a: 1 }), 'id must be a non-empty string, got ""'],
        ['a number id', (s) => s.put(7 as never, { a: 1 }), 'id must be a non-empty string, got 7'],
        [
          'a row that is a string',
          (s) => s.put('t1', 'x' as never),
          'row must be a JSON object, got "x"',
        ],
        ['a null row', (s) => s.put('t1', null as never), 'row must be a JSON object, got null'],
        ['an array row', (s) => s.put('t1', [1] as never), 'row must be a JSON object, got [1]'],
        // An object whose toJSON gives no object (a Date, a decimal or date-time class) is not a
        // row either: stored, every later read of it would fail or return a string.
        [
          'a Date row',
          (s) => s.put('t1', new Date(0) as never),
          'row must be a JSON object, but its JSON (by toJSON) is "1970-01-01T00:00:00.000Z"',
        ],
        [
          'a row whose toJSON gives undefined',
          (s) => s.put('t1', { toJSON: () => undefined } as never),
          'row must be a JSON object, but its JSON (by toJSON) is undefined',
        ],
        [
          'a row whose toJSON gives an array',
          (s) => s.put('t1', { toJSON: () => [1, 2] } as never),
          'row must be a JSON object, but its JSON (by toJSON) is [1,2]',
        ],
        [
          'a fractional version',
          (s) => s.put('t1', { a: 1 }, { version: 1.5 }),
          'version must be a non-negative integer, got 1.5',
        ],
        [
          'a zero ttl',
          (s) => s.put('t1', { a: 1 }, { ttlMs: 0 }),
          'ttlMs must be a positive integer, got 0',
        ],
        // Past the maximum, `now + ttlMs` may be no valid date (above 8.64e15 ms): MongoDB then
        // stored an Invalid Date, and the row vanished at once.
        [
          'a ttl over the maximum',
          (s) => s.put('t1', { a: 1 }, { ttlMs: MAX_TTL_MS + 1 }),
          `ttlMs must be at most ${MAX_TTL_MS} (100 years), got ${MAX_TTL_MS + 1}`,
        ],
        [
          'the largest safe integer as ttl',
          (s) => s.put('t1', { a: 1 }, { ttlMs: Number.MAX_SAFE_INTEGER }),
          `ttlMs must be at most ${MAX_TTL_MS} (100 years), got ${Number.MAX_SAFE_INTEGER}`,
        ],
        ['a delete of an empty id', (s) => s.delete(''), 'id must be a non-empty string, got ""'],
        ['an empty id to get', (s) => s.get(''), 'id must be a non-empty string, got ""'],
        [
          'an empty id in getMany',
          (s) => s.getMany(['t1', '']),
          'ids[1] must be a non-empty string, got ""',
        ],
        [
          'an id with a lone surrogate to get',
          (s) => s.get('t1\udc00'),
          'id must be well-formed Unicode (a lone UTF-16 surrogate has no UTF-8 form), got "t1\\udc00"',
        ],
        [
          'an id with a lone surrogate in getMany',
          (s) => s.getMany(['t1', '\ud800t1']),
          'ids[1] must be well-formed Unicode (a lone UTF-16 surrogate has no UTF-8 form), got "\\ud800t1"',
        ],
        [
          'a delete of an id with a lone surrogate',
          (s) => s.delete('t1\ud800', { version: 2 }),
          'id must be well-formed Unicode (a lone UTF-16 surrogate has no UTF-8 form), got "t1\\ud800"',
        ],
        [
          'a negative limit',
          (s) => s.find({ limit: -1 }),
          'limit must be a non-negative integer, got -1',
        ],
        [
          'a fractional offset',
          (s) => s.find({ offset: 0.5 }),
          'offset must be a non-negative integer, got 0.5',
        ],
        [
          'an object in where',
          (s) => s.find({ where: { status: { eq: 'x' } as never } }),
          `where.status must be a string, finite number, boolean, null or { in: [such values] }, got {"eq":"x"}`,
        ],
        [
          'a dotted where field',
          (s) => s.count({ 'owner.name': 'x' }),
          `a where field must be a top-level field name (no '.', no leading '$', no NUL), got "owner.name"`,
        ],
        [
          'a row with a lone surrogate in a top-level string',
          (s) => s.put('t1', { status: 'kept\ud800' }, { version: 2 }),
          'row.status must be well-formed Unicode (a lone UTF-16 surrogate has no UTF-8 form), got "kept\\ud800"',
        ],
        [
          'a where value with a lone surrogate',
          (s) => s.count({ status: 'kept\ud800' }),
          'where.status must be well-formed Unicode (a lone UTF-16 surrogate has no UTF-8 form), got "kept\\ud800"',
        ],
        [
          'a where in-value with a lone surrogate',
          (s) => s.find({ where: { status: { in: ['kept', '\udc00'] } } }),
          'where.status must be well-formed Unicode (a lone UTF-16 surrogate has no UTF-8 form), got {"in":["kept","\\udc00"]}',
        ],
        [
          'a where field with a lone surrogate',
          (s) => s.count({ 'status\ud800': 'kept' }),
          'a where field must be well-formed Unicode (a lone UTF-16 surrogate has no UTF-8 form), got "status\\ud800"',
        ],
        [
          'a countBy field with a lone surrogate',
          (s) => s.countBy('status\ud800'),
          'field must be well-formed Unicode (a lone UTF-16 surrogate has no UTF-8 form), got "status\\ud800"',
        ],
        [
          'a where field __proto__',
          (s) => s.count(JSON.parse('{"__proto__": "kept"}') as Record<string, string>),
          `a where field must not be __proto__ (an object's prototype, not a field: rows cannot hold it), got "__proto__"`,
        ],
        [
          'a countBy field __proto__',
          (s) => s.countBy('__proto__'),
          `field must not be __proto__ (an object's prototype, not a field: rows cannot hold it), got "__proto__"`,
        ],
        [
          'an orderBy field __proto__',
          (s) => s.find({ orderBy: { field: '__proto__' } }),
          `orderBy.field must not be __proto__ (an object's prototype, not a field: rows cannot hold it), got "__proto__"`,
        ],
        [
          'after with offset',
          async (s) => {
            const { next } = await s.findPage({ limit: 1 });
            return s.find({ after: next, offset: 1 });
          },
          'after and offset cannot be used together: page with after alone (an offset counts rows that are put or deleted meanwhile)',
        ],
        [
          'an after that is no cursor',
          (s) => s.find({ after: 't1' }),
          'after must be the next cursor of a findPage answer, got "t1"',
        ],
        [
          'an after that is a number',
          (s) => s.findPage({ after: 5 as never }),
          'after must be the next cursor of a findPage answer, got 5',
        ],
        [
          'an after of base64 JSON that is no cursor',
          (s) => s.find({ after: Buffer.from('{"id":"t1"}').toString('base64url') }),
          'after must be the next cursor of a findPage answer, got "eyJpZCI6InQxIn0"',
        ],
        [
          'an after of another order',
          async (s) => {
            const { next } = await s.findPage({ orderBy: { field: 'status' }, limit: 1 });
            return s.find({ orderBy: { field: 'status', direction: 'desc' }, after: next });
          },
          "after is a cursor of another order (orderBy status asc), not of this query's (orderBy status desc): page with the orderBy it came from",
        ],
        [
          'an after of id order with an orderBy',
          async (s) => {
            const { next } = await s.findPage({ limit: 1 });
            return s.find({ orderBy: { field: 'rank' }, after: next });
          },
          "after is a cursor of another order (by id), not of this query's (orderBy rank asc): page with the orderBy it came from",
        ],
        [
          'a bad direction',
          (s) => s.find({ orderBy: { field: 'rank', direction: 'up' as never } }),
          `orderBy.direction must be 'asc' or 'desc', got "up"`,
        ],
        [
          'an empty countBy field',
          (s) => s.countBy(''),
          `field must be a top-level field name (no '.', no leading '$', no NUL), got ""`,
        ],
        // A misspelt option was ignored: `find({ userId })` answered every row, `ttl` kept the
        // row for ever, `orderBy.dir` ordered ascending.
        [
          'a query option that does not exist',
          (s) => s.find({ status: 'kept' } as never),
          'query has no option "status" (it takes where, orderBy, limit, offset, after)',
        ],
        [
          'a misspelt query option to findPage',
          (s) => s.findPage({ where: { status: 'kept' }, sort: { field: 'rank' } } as never),
          'query has no option "sort" (it takes where, orderBy, limit, offset, after)',
        ],
        [
          'an orderBy that is no object',
          (s) => s.find({ orderBy: 'rank' as never }),
          'orderBy must be an object { field, direction? }, got "rank"',
        ],
        [
          'a misspelt orderBy option',
          (s) => s.find({ orderBy: { field: 'rank', dir: 'desc' } as never }),
          'orderBy has no option "dir" (it takes field, direction)',
        ],
        [
          'a misspelt put option',
          (s) => s.put('t1', { status: 'changed' }, { ttl: 1_000 } as never),
          'put options have no option "ttl" (they take version, ttlMs)',
        ],
        [
          'a misspelt delete option',
          (s) => s.delete('t1', { expectedVersion: 1 } as never),
          'delete options have no option "expectedVersion" (they take version)',
        ],
        [
          'a where field with a NUL (MongoDB cannot query it)',
          (s) => s.count({ 'a\u0000': 1 }),
          `a where field must be a top-level field name (no '.', no leading '$', no NUL), got "a\\u0000"`,
        ],
      ];
      it.each(cases)('%s', async (_case, call, message) => {
        const s = await store();
        await s.put('t1', { status: 'kept' }, { version: 1 });
        expectRefusal(await refusal(call(s)), TypeError, message);
        await expect(s.get('t1')).resolves.toEqual({ status: 'kept' });
        await expect(s.count()).resolves.toBe(1);
      });
    });
  });
}
