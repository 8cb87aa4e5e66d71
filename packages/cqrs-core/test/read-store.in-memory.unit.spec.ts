import { InMemoryReadStore } from '../src';
import { describeReadStoreConformance } from '../src/testing/read-store.conformance';

describeReadStoreConformance('in-memory', () => new InMemoryReadStore());
