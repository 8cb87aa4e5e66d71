import { setupCommandApi } from '@causeway/command-api';
import { bootstrapService } from '@causeway/cqrs-core/nest';
import { gatewayOpenApi } from '@causeway/sse-gateway';
import { embeddedConfiguration } from './config/embedded.config';
import { EmbeddedModule } from './embedded.module';

void bootstrapService({
  service: 'embedded',
  configuration: embeddedConfiguration,
  module: (config) => EmbeddedModule.forRoot(config),
  // One /docs for the whole app: command-api's document with the SSE gateway's merged in.
  setup: (app, config) =>
    setupCommandApi(app, {
      accessLog: ['trace', 'debug', 'info'].includes(config.LOG_LEVEL),
      documents: [gatewayOpenApi()],
    }),
  listen: (config) => ({ port: config.PORT, host: config.HOST }),
  shutdownTimeoutMs: (config) => config.SHUTDOWN_TIMEOUT_MS,
});
