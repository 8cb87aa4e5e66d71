export * from './checkpoint-store.port';
export * from './checkpoint-store.rules';
export * from './event.forwarder';
export * from './eager-forwarding.store';
export * from './forward-ledger.port';
export * from './in-memory.forward-ledger';
export * from './unpublishable-event.error';
export * from './forwarder.probe';
