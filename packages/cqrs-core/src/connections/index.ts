export * from './managed-connection.port';
