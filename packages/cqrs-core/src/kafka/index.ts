export * from './kafka.connection';
export * from './kafka.options';
export * from './kafka.errors';
export * from './kafka.topics';
export * from './kafka.attempts';
export * from './kafka.publisher';
export * from './kafka.subscription';
export * from './kafka.subscriber';
