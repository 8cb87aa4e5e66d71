export * from './event-store.port';
export * from './event-store.errors';
export * from './polling.subscription';
export * from './read-all.pages';
export * from './stored-event.decode';
export * from './in-memory/in-memory.event-store';
export * from './retention.job';
export * from './event-store.decorator';
