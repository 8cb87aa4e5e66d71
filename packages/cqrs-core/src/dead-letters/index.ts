export * from './dead-letter-queue.port';
export * from './dead-letter-queue.rules';
export * from './in-memory.dead-letter-queue';
export * from './poison.dead-letters';
