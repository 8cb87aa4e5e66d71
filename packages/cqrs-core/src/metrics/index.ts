export * from './connection.metrics';
export * from './messaging.metrics';
export * from './registered.metric';
export * from './consumer-lag.gauge';
