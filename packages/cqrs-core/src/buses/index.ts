export * from './bus.errors';
export * from './event-bus';
export * from './command-bus';
export * from './query-bus';
export * from './command.deadline';
export * from './query.type';
