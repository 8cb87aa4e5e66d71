export * from './checkpoint-store.port';
export * from './event.forwarder';
