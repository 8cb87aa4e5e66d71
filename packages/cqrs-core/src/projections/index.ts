export * from './projection.port';
export * from './projection.runner';
