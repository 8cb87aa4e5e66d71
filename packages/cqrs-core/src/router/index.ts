export * from './handler';
export * from './handler.errors';
export * from './router';
