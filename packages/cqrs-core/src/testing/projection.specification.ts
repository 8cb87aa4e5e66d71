import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type StoredEvent } from '../event-store/event-store.port';
import { type Metadata } from '../messages/envelope';
import { typeNameOf } from '../messages/message.type';
import { type Projection } from '../projections/projection.port';
import { assertErrorMatches, type ErrorExpectation } from './error.expectation';

/** An event of a projection scenario: where it is, what it says; the rest is filled in. */
export interface ScenarioEvent<Data = unknown> {
  streamId: string;
  type: string;
  data: Data;
  /** Default: the stream's previous version + 1 in the scenario. */
  version?: number;
  metadata?: Partial<Metadata>;
}

/** A projection and a way to read its read model, fresh for every run of a scenario. */
export interface ProjectionFixture<ReadModel> {
  projection: Projection;
  /** The read model as the test compares it (e.g. `Object.fromEntries(map)`, or a query). */
  read(): ReadModel | Promise<ReadModel>;
}

export interface ProjectionThen<ReadModel> {
  /**
   * The read model after the events deep-equals `expected`, both when each event is applied
   * once and when delivery is at least once, as the runner's is (every event applied twice in
   * a row, then the whole scenario again, as after a restart from an older checkpoint): the
   * projection's `apply` must be idempotent (see Projection).
   */
  then(expected: ReadModel): Promise<void>;
  /** Applying the `when` events throws this (class, predicate, or class and `check`). */
  thenThrows<E extends Error>(
    expected: ErrorExpectation<E>,
    check?: (error: E) => boolean,
  ): Promise<void>;
}

/**
 * Given/when/then for projections (read models):
 * `ProjectionSpecification.for(() => fixture).given(events).when(events).then(readModel)`.
 * Events become StoredEvents (versions per stream, positions in order, ids, timestamps) and are
 * applied in order, those of a type the projection does not list left out, as the runner does.
 * Each `then*` call runs the scenario afresh on a new fixture.
 */
export const ProjectionSpecification = {
  for<ReadModel>(fixture: () => ProjectionFixture<ReadModel>) {
    return {
      given(given: readonly ScenarioEvent[] = []) {
        return {
          when(when: readonly ScenarioEvent[] = []): ProjectionThen<ReadModel> {
            const events = storedEvents([...given, ...when]);
            const before = events.slice(0, given.length);
            const after = events.slice(given.length);
            const run = async (deliveries: readonly StoredEvent[]) => {
              const { projection, read } = fixture();
              const applies = appliesTo(projection);
              for (const event of deliveries) if (applies(event)) await projection.apply(event);
              return read();
            };
            return {
              async then(expected) {
                assert.deepStrictEqual(
                  await run(events),
                  expected,
                  'the read model after each event applied once',
                );
                const twice = events.flatMap((event) => [event, event]);
                assert.deepStrictEqual(
                  await run([...twice, ...events]),
                  expected,
                  'the read model after events delivered again (at least once): apply must ' +
                    'be idempotent, e.g. ignore an event at or below the version it applied',
                );
              },
              async thenThrows(expected, check) {
                const { projection } = fixture();
                const applies = appliesTo(projection);
                for (const event of before) if (applies(event)) await projection.apply(event);
                try {
                  for (const event of after) if (applies(event)) await projection.apply(event);
                } catch (error) {
                  assertErrorMatches(error, expected, check);
                  return;
                }
                assert.fail('Expected applying the events to throw, but it did not');
              },
            };
          },
        };
      },
    };
  },
};

/** The scenario's events as a store would give them: versions per stream, positions 1, 2, … */
function storedEvents(events: readonly ScenarioEvent[]): StoredEvent[] {
  const versions = new Map<string, number>();
  const start = Date.parse('2026-01-01T00:00:00.000Z');
  return events.map((event, index) => {
    const version = event.version ?? (versions.get(event.streamId) ?? 0) + 1;
    versions.set(event.streamId, version);
    return {
      messageId: randomUUID(),
      type: event.type,
      aggregateId: event.streamId,
      aggregateType: '',
      version,
      data: event.data,
      metadata: {
        category: 'event',
        schemaVersion: 1,
        timestamp: new Date(start + index * 1_000).toISOString(),
        ...event.metadata,
      },
      streamId: event.streamId,
      position: index + 1,
    };
  });
}

/** Whether the projection applies an event: of a type it lists (by name or message type). */
function appliesTo(projection: Projection): (event: StoredEvent) => boolean {
  const names = projection.types && new Set(projection.types.map(typeNameOf));
  return (event) => !names || names.has(event.type);
}
