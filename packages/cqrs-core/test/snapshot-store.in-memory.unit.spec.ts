import { InMemorySnapshotStore } from '../src/snapshots/in-memory.snapshot-store';
import { describeSnapshotStoreConformance } from '../src/testing/snapshot-store.conformance';

describeSnapshotStoreConformance('in-memory', (options) => new InMemorySnapshotStore(options));
