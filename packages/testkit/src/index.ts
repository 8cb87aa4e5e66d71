export * from './servers/server.catalog';
export { resolveServers } from './servers/servers.resolver';
export { repositoryRoot, parseEnvFile } from './servers/local.resolver';
export * from './names/test-namespace';
export * from './services/free-port';
export * from './services/service.process';
export { describeServiceBasics, type ServiceBasicsSpec } from './services/service-basics.suite';
export * from './services/sse.client';
export * from './services/browser';
