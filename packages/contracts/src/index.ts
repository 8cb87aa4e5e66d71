export * from './trainer/move-trainer.command';
export * from './trainer/trainer-moved.event';
export * from './groups/group-membership';
export * from './commands/command-status';
export * from './presence/connection-events';
export * from './notifications/notification';
export * from './serializer';
