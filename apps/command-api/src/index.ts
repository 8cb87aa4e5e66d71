// The command API as a feature module, for the standalone app and the embedded one.
export * from './command-api.module';
export * from './command-api.options';
export * from './command-api.setup';
export * from './idempotency/idempotency-store.port';
export * from './idempotency/in-memory.idempotency-store';
export * from './idempotency/redis.idempotency-store';
export { CommandApiMetrics } from './metrics/command-api.metrics';
