export * from './connection.metrics';
export * from './messaging.metrics';
