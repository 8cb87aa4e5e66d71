// Conformance suites and given/when/then helpers for @causeway/cqrs-core ports.
export {};
export * from './transport.conformance';
export * from './given-when-then';
export * from './snapshot-store.conformance';
export * from './envelope.fixture';
export * from './event-store.conformance';
export * from './dead-letter-queue.conformance';
export * from './checkpoint-store.conformance';
export * from './deduplication-store.conformance';
export * from './lease.conformance';
export * from './forward-ledger.conformance';
export * from './projection.specification';
export * from './document-store.conformance';
export * from './read-store.conformance';
