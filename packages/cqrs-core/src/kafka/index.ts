export * from './kafka.connection';
