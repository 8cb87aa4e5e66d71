import { InMemoryDeduplicationStore } from '../src/middleware/in-memory.deduplication-store';
import { describeDeduplicationStoreConformance } from '../src/testing';

describeDeduplicationStoreConformance('in-memory', async () => new InMemoryDeduplicationStore());
