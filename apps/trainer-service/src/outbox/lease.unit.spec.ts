import { InMemoryLease, type InMemoryLeaseTable } from './in-memory.lease';
import { describeLease } from './lease.conformance';

const table: InMemoryLeaseTable = new Map();
describeLease('in-memory', async (key, ttlMs) => new InMemoryLease(table, key, ttlMs));
