// The projection feature of projection-worker, for the app itself and the embedded mode.
export * from './projection/projection.module';
export * from './projection/projection.module-options';
export * from './projection/projection.runner';
export * from './projection/read-models.projector';
export * from './projection/read-models.catch-up';
