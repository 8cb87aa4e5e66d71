export * from './health-probe.port';
