import { randomUUID } from 'node:crypto';
import { InMemorySnapshotStore } from '../snapshots/in-memory.snapshot-store';
import { type Snapshot, type SnapshotStore } from '../snapshots/snapshot-store.port';
import { jsonSnapshotSerializer, type SnapshotSerializer } from '../snapshots/snapshot.codec';
import { SnapshotDecodeError } from '../snapshots/snapshot.errors';

export interface SnapshotStoreFactoryOptions {
  /** Retention the store must apply. */
  keep: number;
  compression: 'gzip' | 'br';
  compressAboveBytes: number;
  /** The state serializer (SnapshotCodecOptions), when the suite gives one. */
  serializer?: SnapshotSerializer;
  /** Where the store reports a snapshot it passes over, when the suite asks. */
  onUnreadable?: (error: SnapshotDecodeError) => void;
}

/** Creates a store with these options; the suite calls init() and close() on it. */
export type SnapshotStoreFactory = (
  options: SnapshotStoreFactoryOptions,
) => SnapshotStore | Promise<SnapshotStore>;

/**
 * The snapshot store contract (see SnapshotStore), run once per backend:
 * `describeSnapshotStoreConformance('mongodb', (options) => new MongoSnapshotStore({ connection, ...options }))`.
 * Each test uses its own random stream ids, so stores may share a database.
 */
export function describeSnapshotStoreConformance(
  name: string,
  factory: SnapshotStoreFactory,
): void {
  describe(`SnapshotStore conformance: ${name}`, () => {
    const open: SnapshotStore[] = [];
    async function store(
      options: Partial<SnapshotStoreFactoryOptions> = {},
    ): Promise<SnapshotStore> {
      const created = await factory({
        keep: 3,
        compression: 'gzip',
        compressAboveBytes: 1024,
        ...options,
      });
      open.push(created);
      await created.init();
      return created;
    }
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    const stream = () => `Trainer-${randomUUID()}`;
    const snapshot = (
      streamId: string,
      version: number,
      state: unknown,
      schemaVersion = 1,
    ): Snapshot => ({
      streamId,
      version,
      schemaVersion,
      state,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, version)).toISOString(),
      aggregateType: 'Trainer',
    });

    it('passes over a snapshot it cannot decode for the spare, and reports it', async () => {
      // A serializer that refuses to read back states marked unreadable: a corrupt payload.
      const serializer: SnapshotSerializer = {
        serialize: (state) => jsonSnapshotSerializer.serialize(state),
        deserialize: (text) => {
          if (text.includes('"unreadable"')) throw new Error('corrupt payload');
          return jsonSnapshotSerializer.deserialize(text);
        },
      };
      const reported: SnapshotDecodeError[] = [];
      const s = await store({ keep: 2, serializer, onUnreadable: (e) => reported.push(e) });
      const id = stream();
      await s.save(snapshot(id, 10, { x: 10 }));
      await s.save(snapshot(id, 20, { x: 20, unreadable: true }));
      await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({
        version: 10,
        state: { x: 10 },
      });
      expect(reported.map((e) => [e.constructor, e.message])).toEqual([
        [SnapshotDecodeError, expect.stringContaining('at version 20')],
      ]);
      // None readable: undefined (the caller replays the events), each one reported.
      await s.save(snapshot(id, 30, { x: 30, unreadable: true }));
      reported.length = 0;
      await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toBeUndefined();
      expect(reported).toHaveLength(2);
    });

    it('init is idempotent; a stream without snapshots loads as undefined and lists as []', async () => {
      const s = await store();
      await s.init();
      const id = stream();
      await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toBeUndefined();
      await expect(s.list(id)).resolves.toEqual([]);
      await expect(s.delete(id)).resolves.toBe(0);
    });

    it('loads the snapshot with the highest version, whatever the save order', async () => {
      const s = await store();
      const id = stream();
      await s.save(snapshot(id, 3, { x: 3 }));
      await s.save(snapshot(id, 7, { x: 7 }));
      await s.save(snapshot(id, 5, { x: 5 }));
      const latest = await s.loadLatest(id, { schemaVersion: 1 });
      expect(latest).toMatchObject({
        streamId: id,
        version: 7,
        schemaVersion: 1,
        state: { x: 7 },
        createdAt: '2026-01-01T00:00:07.000Z',
        aggregateType: 'Trainer',
        encoding: 'identity',
      });
      expect(latest?.storedBytes).toBe(Buffer.byteLength(JSON.stringify({ x: 7 })));
      expect((await s.list(id)).map((info) => info.version)).toEqual([7, 5, 3]);
      expect((await s.list(id))[0]).not.toHaveProperty('state');
    });

    it('keeps streams apart, also streams whose ids share a prefix', async () => {
      const s = await store();
      const id = stream();
      await s.save(snapshot(id, 1, { owner: 'a' }));
      await s.save(snapshot(`${id}-1`, 9, { owner: 'b' }));
      await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({
        version: 1,
        state: { owner: 'a' },
      });
      await expect(s.delete(`${id}-1`)).resolves.toBe(1);
      await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({ version: 1 });
    });

    it('replaces a snapshot saved again at the same version and schema version', async () => {
      const s = await store();
      const id = stream();
      await s.save(snapshot(id, 4, { x: 'first' }));
      await s.save(snapshot(id, 4, { x: 'second' }));
      await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({
        state: { x: 'second' },
      });
      expect(await s.list(id)).toHaveLength(1);
      // Every field is replaced, also one the new save leaves out (MongoDB kept the old
      // aggregateType, which the repository checks loads against — a review, session 36).
      const { aggregateType: _, ...untyped } = snapshot(id, 4, { x: 'third' });
      await s.save(untyped);
      const [info] = await s.list(id);
      expect(info?.aggregateType).toBeUndefined();
      expect((await s.loadLatest(id, { schemaVersion: 1 }))?.aggregateType).toBeUndefined();
    });

    it('ignores snapshots of another aggregate schema version', async () => {
      const s = await store();
      const id = stream();
      await s.save(snapshot(id, 10, { shape: 'v1' }, 1));
      await expect(s.loadLatest(id, { schemaVersion: 2 })).resolves.toBeUndefined();
      await s.save(snapshot(id, 4, { shape: 'v2' }, 2));
      await expect(s.loadLatest(id, { schemaVersion: 2 })).resolves.toMatchObject({
        version: 4,
        state: { shape: 'v2' },
      });
      // An older deploy still finds its own snapshot; it never sees the newer schema's.
      await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({
        version: 10,
        state: { shape: 'v1' },
      });
      await s.save(snapshot(id, 10, { shape: 'v2 at 10' }, 2));
      await expect(s.loadLatest(id, { schemaVersion: 2 })).resolves.toMatchObject({
        version: 10,
        state: { shape: 'v2 at 10' },
      });
      await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({
        state: { shape: 'v1' },
      });
    });

    it('keeps only the newest K snapshots of a stream', async () => {
      const s = await store({ keep: 2 });
      const id = stream();
      const other = stream();
      await s.save(snapshot(other, 1, {}));
      for (const version of [1, 2, 3, 4, 5, 6]) await s.save(snapshot(id, version, { version }));
      expect((await s.list(id)).map((info) => info.version)).toEqual([6, 5]);
      await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({
        state: { version: 6 },
      });
      // An older snapshot saved late is beyond the newest K and does not stay either.
      await s.save(snapshot(id, 2, { version: 2 }));
      expect((await s.list(id)).map((info) => info.version)).toEqual([6, 5]);
      expect(await s.list(other)).toHaveLength(1);
    });

    it('keeps the newest snapshot of each other schema version (two releases side by side)', async () => {
      const s = await store({ keep: 2 });
      const id = stream();
      // The old release (schema 1) and the new one (schema 2) save in turns during a deploy.
      for (const version of [1, 2, 3]) await s.save(snapshot(id, version, { old: version }, 1));
      for (const version of [4, 5, 6]) await s.save(snapshot(id, version, { new: version }, 2));
      await s.save(snapshot(id, 7, { old: 7 }, 1));
      await s.save(snapshot(id, 8, { new: 8 }, 2));
      const kept = (await s.list(id)).map((info) => [info.version, info.schemaVersion]);
      expect(kept).toEqual([
        [8, 2],
        [7, 1],
        [6, 2],
      ]);
      await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({
        version: 7,
        state: { old: 7 },
      });
      await expect(s.loadLatest(id, { schemaVersion: 2 })).resolves.toMatchObject({ version: 8 });
    });

    it('ends with the newest snapshot after concurrent saves', async () => {
      const s = await store({ keep: 3 });
      const id = stream();
      await Promise.all(
        [1, 2, 3, 4, 5, 6, 7, 8].map((version) => s.save(snapshot(id, version, { version }))),
      );
      await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({
        version: 8,
        state: { version: 8 },
      });
      await s.save(snapshot(id, 9, { version: 9 }));
      expect((await s.list(id)).map((info) => info.version)).toEqual([9, 8, 7]);
    });

    it.each(['gzip', 'br'] as const)(
      'compresses a large state with %s and restores it exactly',
      async (compression) => {
        const s = await store({ compression, compressAboveBytes: 1024 });
        const id = stream();
        const state = {
          trainers: Array.from({ length: 2000 }, (_, i) => ({
            id: `trainer-${i}`,
            x: i * 0.5,
            y: 1000 - i,
            moving: i % 2 === 0,
          })),
        };
        await s.save(snapshot(id, 1, state));
        const loaded = await s.loadLatest(id, { schemaVersion: 1 });
        expect(loaded?.state).toEqual(state);
        expect(loaded?.encoding).toBe(compression);
        expect(loaded?.rawBytes).toBe(Buffer.byteLength(JSON.stringify(state)));
        expect(loaded?.storedBytes).toBeLessThan((loaded?.rawBytes ?? 0) / 4);
        // Below the threshold nothing is compressed.
        await s.save(snapshot(id, 2, { small: true }));
        await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({
          encoding: 'identity',
        });
      },
    );

    it('round-trips unicode, nested data and keys with dots and dollars', async () => {
      const s = await store();
      const id = stream();
      const state = {
        name: '지우 Ash 🐉 サトシ',
        'key.with.dots': { $dollar: 1, 'a.b': [1, [2, [3, { deep: '\u0000nul' }]]] },
        nested: { level1: { level2: { level3: { values: [null, true, false, -0.5, 1e21] } } } },
        empty: { list: [], object: {} },
      };
      await s.save(snapshot(id, 1, state));
      await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({ state });
    });

    it.each([
      ['version', -1, 'snapshot.version must be a positive integer, got -1'],
      ['version', 0, 'snapshot.version must be a positive integer, got 0'],
      ['version', 1.5, 'snapshot.version must be a positive integer, got 1.5'],
      ['version', Number.NaN, 'snapshot.version must be a positive integer, got NaN'],
      ['version', '3', 'snapshot.version must be a positive integer, got "3"'],
      ['schemaVersion', 1.5, 'snapshot.schemaVersion must be an integer, got 1.5'],
      ['streamId', '', 'snapshot.streamId must be a non-empty string, got ""'],
      ['createdAt', 'x', 'snapshot.createdAt must be an ISO-8601 time string, got "x"'],
      [
        'createdAt',
        '2026-01-01T00:00:99Z',
        'snapshot.createdAt must be an ISO-8601 time string, got "2026-01-01T00:00:99Z"',
      ],
      ['createdAt', undefined, 'snapshot.createdAt must be an ISO-8601 time string, got undefined'],
    ])(
      'refuses a snapshot whose %s is %p with a TypeError naming it, writing nothing',
      async (field, value, message) => {
        const s = await store();
        const id = stream();
        await s.save(snapshot(id, 2, { kept: true }));
        const bad = { ...snapshot(id, 3, { bad: true }), [field]: value } as unknown as Snapshot;
        const refused = s.save(bad);
        await expect(refused).rejects.toThrow(TypeError);
        await expect(refused).rejects.toThrow(message);
        expect((await s.list(id)).map((info) => info.version)).toEqual([2]);
        await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({
          version: 2,
          state: { kept: true },
        });
      },
    );

    it.each([
      [Number.NaN, 'schemaVersion must be an integer, got NaN'],
      ['1', 'schemaVersion must be an integer, got "1"'],
      [1.5, 'schemaVersion must be an integer, got 1.5'],
      [Number.POSITIVE_INFINITY, 'schemaVersion must be an integer, got Infinity'],
      [undefined, 'schemaVersion must be an integer, got undefined'],
    ])(
      'refuses to load with a schemaVersion of %p, with a TypeError naming it',
      async (schemaVersion, message) => {
        const s = await store();
        const id = stream();
        await s.save(snapshot(id, 2, { kept: true }));
        const refused = s.loadLatest(id, { schemaVersion } as unknown as { schemaVersion: number });
        await expect(refused).rejects.toThrow(TypeError);
        await expect(refused).rejects.toThrow(message);
        await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({
          version: 2,
        });
      },
    );

    it.each([
      [{ $ne: null }, 'an object'],
      [42, '42'],
      ['', '""'],
      [undefined, 'undefined'],
    ])(
      'refuses to load, list or delete the snapshots of streamId %p, with a TypeError naming it',
      async (streamId, shown) => {
        const s = await store();
        const id = stream();
        await s.save(snapshot(id, 2, { kept: true }));
        const bad = streamId as unknown as string;
        const message = `streamId must be a non-empty string, got ${shown}`;
        await expect(s.loadLatest(bad, { schemaVersion: 1 })).rejects.toThrow(
          new TypeError(message),
        );
        await expect(s.list(bad)).rejects.toThrow(new TypeError(message));
        await expect(s.delete(bad)).rejects.toThrow(new TypeError(message));
        // Nothing was deleted: the stream's snapshot is still there.
        await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toMatchObject({
          version: 2,
          state: { kept: true },
        });
      },
    );

    // The event stores' rule (checkStreamId): a snapshot only for a stream they could hold.
    it.each([
      ['blank', ' \t', 'must not be empty or blank, got " \\t"'],
      ['with a NUL', 'a\u0000b', 'must not contain a NUL character, got "a\\u0000b"'],
      ['of 1025 characters', 's'.repeat(1_025), 'must be at most 1024 characters, got 1025'],
      [
        'with a lone surrogate',
        'a\ud800',
        'must be well-formed Unicode (a lone UTF-16 surrogate has no UTF-8 form), got "a\\ud800"',
      ],
    ])(
      'refuses to save, load, list or delete the snapshots of a streamId %s, as the event stores do',
      async (_label, bad, problem) => {
        const s = await store();
        await expect(s.save(snapshot(bad, 1, { bad: true }))).rejects.toThrow(
          new TypeError(`snapshot.streamId ${problem}`),
        );
        const message = new TypeError(`streamId ${problem}`);
        await expect(s.loadLatest(bad, { schemaVersion: 1 })).rejects.toThrow(message);
        await expect(s.list(bad)).rejects.toThrow(message);
        await expect(s.delete(bad)).rejects.toThrow(message);
      },
    );

    it('refuses to load without options, with a TypeError', async () => {
      const s = await store();
      const refused = s.loadLatest(stream(), undefined as unknown as { schemaVersion: number });
      await expect(refused).rejects.toThrow(TypeError);
      await expect(refused).rejects.toThrow('loadLatest options must be an object');
    });

    it('accepts a createdAt with an offset or without milliseconds, and gives it back in UTC', async () => {
      const s = await store();
      const id = stream();
      await s.save({ ...snapshot(id, 1, {}), createdAt: '2026-01-01T02:00:00+02:00' });
      await s.save({ ...snapshot(id, 2, {}), createdAt: '2026-01-01T00:00:00Z' });
      const listed = await s.list(id);
      expect(listed.map((info) => info.createdAt)).toEqual([
        '2026-01-01T00:00:00.000Z',
        '2026-01-01T00:00:00.000Z',
      ]);
      const latest = await s.loadLatest(id, { schemaVersion: 1 });
      expect(latest?.createdAt).toBe('2026-01-01T00:00:00.000Z');
    });

    it('behaves as the in-memory store over a seeded sequence of saves, loads, lists and deletes', async () => {
      // mulberry32: a failing sequence replays the same.
      let seed = 7;
      const random = () => {
        seed = (seed + 0x6d2b79f5) >>> 0;
        let t = seed;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      for (const keep of [1, 2]) {
        const s = await store({ keep, compressAboveBytes: 64 });
        const model = new InMemorySnapshotStore({ keep, compressAboveBytes: 64 });
        const ids = [stream(), stream()];
        const log: string[] = [];
        const both = async (name: string, run: (target: SnapshotStore) => Promise<unknown>) => {
          const expected = JSON.stringify(await run(model));
          const actual = JSON.stringify(await run(s));
          log.push(`${name} -> ${expected}`);
          if (actual !== expected)
            throw new Error(`after\n${log.join('\n')}\nthe store answered ${actual}`);
        };
        for (let step = 0; step < 60; step++) {
          const id = pick(ids);
          const schemaVersion = pick([1, 1, 2, -1]);
          const roll = random();
          if (roll < 0.5) {
            const version = 1 + Math.floor(random() * 8);
            // Some states are over the compression threshold.
            const state = { version, text: 'x'.repeat(pick([0, 200])) };
            await both(`save ${id} v${version} s${schemaVersion}`, (target) =>
              target.save(snapshot(id, version, state, schemaVersion)),
            );
          } else if (roll < 0.75) {
            await both(`loadLatest ${id} s${schemaVersion}`, (target) =>
              target.loadLatest(id, { schemaVersion }),
            );
          } else if (roll < 0.95) {
            await both(`list ${id}`, (target) => target.list(id));
          } else {
            await both(`delete ${id}`, (target) => target.delete(id));
          }
        }
      }
    });

    it('deletes every snapshot of a stream', async () => {
      const s = await store();
      const id = stream();
      await s.save(snapshot(id, 1, {}));
      await s.save(snapshot(id, 2, {}, 2));
      await expect(s.delete(id)).resolves.toBe(2);
      await expect(s.loadLatest(id, { schemaVersion: 1 })).resolves.toBeUndefined();
      await expect(s.loadLatest(id, { schemaVersion: 2 })).resolves.toBeUndefined();
      await expect(s.list(id)).resolves.toEqual([]);
    });
  });
}
