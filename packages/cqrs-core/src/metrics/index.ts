export * from './connection.metrics';
