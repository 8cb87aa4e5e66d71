export * from './mongodb.connection';
export * from './mongodb.checkpoint-store';
