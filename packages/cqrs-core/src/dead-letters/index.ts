export * from './dead-letter-queue.port';
export * from './dead-letter-queue.rules';
export * from './in-memory.dead-letter-queue';
export * from './letter.upcast';
export * from './poison.dead-letters';
