export * from './read-store.port';
export * from './in-memory.read-store';
