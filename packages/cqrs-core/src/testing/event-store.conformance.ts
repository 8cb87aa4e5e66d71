import { type EventStore } from '../event-store/event-store.port';
import { type MessageSerializer } from '../messages/serializer.port';
import { appendScenarios } from './event-store.conformance.append';
import { argumentScenarios } from './event-store.conformance.arguments';
import { checkpointScenarios } from './event-store.conformance.checkpoints';
import { dataScenarios } from './event-store.conformance.data';
import { lifecycleScenarios } from './event-store.conformance.lifecycle';
import { modelScenarios } from './event-store.conformance.model';
import { noSkipScenario } from './event-store.conformance.no-skip';

/** Capabilities that differ between backends; the scenarios branch on them, none is skipped. */
export interface EventStoreConformanceFeatures {
  /**
   * Positions are consecutive integers. The in-memory and Redis stores give one position per
   * event; the MongoDB store leaves room between commits (see docs/adr/003), so only
   * "strictly increasing" holds there.
   */
  densePositions: boolean;
  /** Load of the no-skip scenario. Default 8 writers × 1000 appends each. */
  noSkip?: { writers: number; appendsPerWriter: number };
}

/** What a backend hands the suite: one store plus access to the same data from "other processes". */
export interface EventStoreHarness {
  /** An initialised store using the default JsonSerializer. */
  readonly store: EventStore;
  /**
   * Another initialised store over the same data on its own connection(s), as a second process
   * would have; closed by dispose(). Used for genuinely concurrent writers.
   */
  connect(options?: { serializer?: MessageSerializer }): Promise<EventStore>;
  /** Overwrites the stored data of one event through the backend's raw client, leaving its checksum. */
  corrupt(streamId: string, version: number): Promise<void>;
  /** Closes every store it created and drops the test data. */
  dispose(): Promise<void>;
}

export interface EventStoreConformanceContext {
  readonly features: EventStoreConformanceFeatures;
  harness(): EventStoreHarness;
}

/**
 * The EventStore contract (see the port), run once per backend:
 * `describeEventStoreConformance('mongodb', { densePositions: false }, createHarness)`.
 * The factory is called once per test file; every test uses its own random stream ids and
 * event types, so tests never see each other's events.
 */
export function describeEventStoreConformance(
  name: string,
  features: EventStoreConformanceFeatures,
  factory: () => Promise<EventStoreHarness>,
): void {
  describe(`EventStore conformance: ${name}`, () => {
    let current: EventStoreHarness | undefined;
    const context: EventStoreConformanceContext = {
      features,
      harness() {
        if (!current) throw new Error('the event store harness failed to start (see beforeAll)');
        return current;
      },
    };
    beforeAll(async () => {
      current = await factory();
    });
    afterAll(async () => {
      await current?.dispose();
    });

    describe('appending and reading', () => appendScenarios(context));
    describe('subscribing, deleting and retention', () => lifecycleScenarios(context));
    describe('data integrity and limits', () => dataScenarios(context));
    describe('arguments', () => argumentScenarios(context));
    // Before the global order scenario fills the store: FerretDB scans it on every query.
    describe('the in-memory store as a model', () => modelScenarios(context));
    describe('global order', () => noSkipScenario(context));
    describe('checkpoints and unreadable events', () => checkpointScenarios(context));
  });
}
