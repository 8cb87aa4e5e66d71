export * from './mongodb.connection';
