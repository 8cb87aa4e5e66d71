export * from './handler';
export * from './handler.errors';
export * from './router';
export * from './handler-failure.warning';
export * from './throttled.warning';
