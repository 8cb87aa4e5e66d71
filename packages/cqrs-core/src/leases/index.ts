export * from './lease.port';
export * from './in-memory.lease';
export * from './lease.supervisor';
