import { InMemoryLease, type InMemoryLeaseTable } from '../src/leases';
import { describeLeaseConformance } from '../src/testing';

const table: InMemoryLeaseTable = new Map();
describeLeaseConformance('in-memory', async (key, ttlMs) => new InMemoryLease(table, key, ttlMs));
