export * from './managed-connection.port';
export * from './connection-target';
