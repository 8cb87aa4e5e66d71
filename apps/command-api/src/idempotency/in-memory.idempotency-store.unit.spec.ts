import { describeIdempotencyStore } from './idempotency-store.conformance';
import { InMemoryIdempotencyStore } from './in-memory.idempotency-store';

describeIdempotencyStore('in-memory', async () => new InMemoryIdempotencyStore());
