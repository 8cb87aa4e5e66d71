import { ConcurrencyConflictError } from '../event-store/event-store.errors';
import {
  type EventStore,
  type ExpectedVersion,
  type ReadStreamOptions,
  type RetentionPolicy,
} from '../event-store/event-store.port';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { type Envelope } from '../messages/envelope';
import { type EventStoreConformanceContext } from './event-store.conformance';
import { event, uniqueName } from './event-store.conformance.fixtures';

/** A small deterministic generator (mulberry32), so a failing sequence can be replayed. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What an operation did, in terms every backend must agree on (no positions: they differ). */
async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    const value = await run();
    if (value && typeof value === 'object' && 'nextExpectedVersion' in value) {
      const { nextExpectedVersion, positions } = value as {
        nextExpectedVersion: number;
        positions: number[];
      };
      return { nextExpectedVersion, appended: positions.length };
    }
    return value;
  } catch (error) {
    if (error instanceof ConcurrencyConflictError)
      return {
        error: error.name,
        expected: error.expected,
        actual: error.actual,
      };
    return { error: (error as Error).name };
  }
}

/**
 * Runs one seeded sequence of appends (every kind of expected version, re-appends whole and
 * partly overlapping), soft and hard deletes, truncations and retention (by count, age and
 * position), from two store instances, on the store under test and on an in-memory store, and
 * requires the same outcome of every step and the same reads: the backends must not differ
 * where the port says what happens.
 */
export function modelScenarios(context: EventStoreConformanceContext): void {
  const store = () => context.harness().store;

  for (const seed of [1, 2]) {
    it(`behaves as the in-memory store over a seeded sequence of operations (seed ${seed})`, async () => {
      const random = generator(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const prefix = uniqueName(`model-${seed}`) + '/';
      const types = [uniqueName('ModelA'), uniqueName('ModelB')];
      // A third of the events are two days old, for retention by age.
      const old = new Date(Date.now() - 2 * 86_400_000).toISOString();
      const next = () => event(pick(types), ++counter, random() < 0.33 ? { timestamp: old } : {});
      const streams = [prefix + 'a', prefix + 'b', prefix + 'c'];
      const model: EventStore = new InMemoryEventStore();
      const batches: Envelope[][] = [];
      const log: string[] = [];
      let counter = 0;
      // Two processes: each step runs on one of them, so one acts on what the other wrote.
      const stores = [store(), await context.harness().connect()];
      // Where this test's events begin in the store's log (it may hold many before them); a
      // stream outside the prefix, which retention leaves alone.
      const [start] = (
        await store().append(uniqueName('model-start'), [event(uniqueName('Start'), 0)], {
          expectedVersion: 'no-stream',
        })
      ).positions;
      const both = async (name: string, run: (target: EventStore) => Promise<unknown>) => {
        const expected = await outcome(() => run(model));
        const which = Math.floor(random() * stores.length);
        const actual = await outcome(() => run(stores[which]!));
        log.push(`${name} (store ${which}) -> ${JSON.stringify(expected)}`);
        if (JSON.stringify(actual) !== JSON.stringify(expected))
          throw new Error(`after\n${log.join('\n')}\nthe store answered ${JSON.stringify(actual)}`);
      };
      for (let step = 0; step < 70; step++) {
        const streamId = pick(streams);
        const info = await model.streamInfo(streamId);
        const roll = random();
        if (roll < 0.5) {
          let batch: Envelope[];
          const reuse = random();
          const previous = batches.length > 0 ? pick(batches) : undefined;
          if (previous && reuse < 0.2) batch = previous;
          else if (previous && reuse < 0.3) batch = [previous[previous.length - 1]!, next()];
          else batch = Array.from({ length: Math.floor(random() * 4) }, next);
          if (batch.length > 0) batches.push(batch);
          const expectedVersion: ExpectedVersion = pick([
            info.version,
            info.version,
            Math.max(0, info.version - 1),
            info.version + 1,
            0,
            'any',
            'no-stream',
            'exists',
          ]);
          const ids = batch.map((e) => e.data as number).join(',');
          await both(`append ${streamId} [${ids}] @${expectedVersion}`, (target) =>
            target.append(streamId, batch, { expectedVersion }),
          );
        } else if (roll < 0.58) {
          const mode = random() < 0.8 ? 'soft' : 'hard';
          const expectedVersion =
            random() < 0.5
              ? undefined
              : pick<ExpectedVersion>([info.version, info.version + 1, 'no-stream', 'exists']);
          await both(`delete ${mode} ${streamId} @${String(expectedVersion)}`, (target) =>
            target.deleteStream(streamId, {
              mode,
              ...(expectedVersion !== undefined && { expectedVersion }),
            }),
          );
        } else if (roll < 0.68) {
          const before = 1 + Math.floor(random() * (info.version + 2));
          await both(`truncate ${streamId} before ${before}`, (target) =>
            target.truncateStream(streamId, before),
          );
        } else if (roll < 0.78) {
          const policy: RetentionPolicy = { streamPrefix: prefix };
          if (random() < 0.6) policy.maxCount = Math.floor(random() * 3);
          if (random() < 0.5) policy.maxAgeMs = 86_400_000;
          // Up to an event of the stream: its position in each store's own log.
          const until = random() < 0.5 ? undefined : 1 + Math.floor(random() * info.version);
          await both(
            `retention ${JSON.stringify(policy)} until ${streamId}@${until}`,
            async (target) => {
              const [at] =
                until === undefined
                  ? []
                  : await target.readStream(streamId, { fromVersion: until, limit: 1 });
              return target.applyRetention({
                ...policy,
                ...(at !== undefined && { maxPosition: at.position }),
              });
            },
          );
        } else {
          const options: ReadStreamOptions = {};
          if (random() < 0.5) options.fromVersion = 1 + Math.floor(random() * (info.version + 2));
          if (random() < 0.5) options.toVersion = 1 + Math.floor(random() * (info.version + 2));
          if (random() < 0.5) options.direction = 'backwards';
          if (random() < 0.5) options.limit = Math.floor(random() * 4);
          await both(`readStream ${streamId} ${JSON.stringify(options)}`, async (target) =>
            (await target.readStream(streamId, options)).map((e) => [e.version, e.data]),
          );
        }
        await both(`streamInfo ${streamId}`, (target) => target.streamInfo(streamId));
      }
      for (const streamId of streams)
        await both(`readStream ${streamId}`, async (target) =>
          (await target.readStream(streamId)).map((e) => [e.version, e.messageId, e.data]),
        );
      const all = async (target: EventStore, limit?: number) =>
        (
          await target.readAll({
            types,
            ...(target !== model && { fromPosition: start }),
            ...(limit !== undefined && { limit }),
          })
        ).map((e) => [e.streamId, e.version, e.data]);
      const everything = await all(model);
      expect(await all(store())).toEqual(everything);
      expect(await all(store(), 3)).toEqual(everything.slice(0, 3));
      // Page by page, with a type filter: no event of the type skipped or read twice.
      const onlyA = (await model.readAll({ types: [types[0]!] })).map((e) => e.data);
      const paged: unknown[] = [];
      for (let from = start!, caughtUp = false; !caughtUp;) {
        const page = await store().readAllPage({
          fromPosition: from,
          types: [types[0]!],
          limit: 2,
        });
        paged.push(...page.events.map((e) => e.data));
        expect(page.position).toBeGreaterThanOrEqual(from);
        ({ position: from, caughtUp } = page);
      }
      expect(paged).toEqual(onlyA);
    }, 180_000); // FerretDB scans its collections on most queries: a minute once they are full
  }
}
