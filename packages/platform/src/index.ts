export * from './messaging.settings';
export * from './redis-messaging.module';
export * from './auth/token.service';
export * from './auth/auth.settings';
export * from './command-status/command-status.port';
export * from './notifications/notification-log.port';
export * from './read-models/trainer-positions.port';
export * from './read-models/group-members.port';
