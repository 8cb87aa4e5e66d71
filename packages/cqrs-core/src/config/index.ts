export * from './configuration.error';
export * from './configuration.loader';
export * from './settings.schema';
