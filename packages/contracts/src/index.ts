export * from './trainer/move-trainer.command';
export * from './trainer/trainer-moved.event';
export * from './notifications/notification';
export * from './serializer';
