export * from './checkpoint-store.port';
export * from './event.forwarder';
export * from './eager-forwarding.store';
