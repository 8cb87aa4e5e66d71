// The SSE gateway feature, for the sse-gateway app and the embedded mode.
export * from './gateway/gateway.module';
export * from './gateway/gateway.options';
export * from './gateway/gateway.settings';
export * from './sse/sse.hub';
export * from './sse/sse.connection';
export * from './sse/sse.frames';
export * from './sse/sse.resume';
export * from './auth/stream.authenticator';
export * from './presence/presence-registry.port';
export * from './presence/in-memory.presence-registry';
export * from './presence/redis.presence-registry';
export * from './openapi/gateway.openapi';
export * from './sse-gateway.setup';
