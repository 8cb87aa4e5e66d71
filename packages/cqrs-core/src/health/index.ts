export * from './health-probe.port';
export * from './health.monitor';
