// Conformance suites and given/when/then helpers for @causeway/cqrs-core ports.
export {};
export * from './transport.conformance';
export * from './envelope.fixture';
export * from './dead-letter-queue.conformance';
export * from './checkpoint-store.conformance';
