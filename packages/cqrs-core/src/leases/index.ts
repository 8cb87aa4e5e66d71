export * from './lease.port';
export * from './lease.rules';
export * from './in-memory.lease';
export * from './lease.supervisor';
