export * from './redis.connection';
export * from './redis.deduplication-store';
export * from './redis.dead-letter-queue';
export * from './redis.checkpoint-store';
