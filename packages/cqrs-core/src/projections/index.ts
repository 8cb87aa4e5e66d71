export * from './projection.port';
export * from './projection.runner';
export * from './projection.errors';
