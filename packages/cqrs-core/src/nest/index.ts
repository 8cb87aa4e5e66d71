export * from './service.tokens';
export * from './service.options';
export * from './service.module';
export * from './service.bootstrap';
export { HealthController } from './health.controller';
export { MetricsController } from './metrics.controller';
