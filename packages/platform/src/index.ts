export * from './messaging.settings';
export * from './redis-messaging.module';
