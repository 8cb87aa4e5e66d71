export * from './config';
export * from './health';
export * from './connections';
export * from './metrics';
export * from './transport';
