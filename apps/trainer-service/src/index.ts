// The trainer feature of trainer-service, for the app itself and the embedded mode.
export * from './trainer/trainer.module';
export * from './trainer/trainer.module-options';
export * from './trainer/trainer.command-handler';
export * from './trainer/trainer.decider';
export { trainerStreamId, TRAINER_AGGREGATE } from './trainer/trainer.stream';
export { trainerSettings } from './config/trainer-service.config';
