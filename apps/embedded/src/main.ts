import { type Server } from 'node:http';
import { setupCommandApi } from '@causeway/command-api';
import { bootstrapService } from '@causeway/cqrs-core/nest';
import { allowCrossOrigin } from '@causeway/platform';
import { gatewayOpenApi } from '@causeway/sse-gateway';
import { embeddedConfiguration } from './config/embedded.config';
import { EmbeddedModule } from './embedded.module';

void bootstrapService({
  service: 'embedded',
  configuration: embeddedConfiguration,
  module: (config) => EmbeddedModule.forRoot(config),
  // One /docs for the whole app: command-api's document with the SSE gateway's merged in.
  setup: (app, config) => {
    // Ahead of everything: the commands and GET /events served in front of Express included.
    allowCrossOrigin(app.getHttpServer() as Server, config.CORS_ORIGINS);
    setupCommandApi(app, {
      accessLog: ['trace', 'debug', 'info'].includes(config.LOG_LEVEL),
      documents: [gatewayOpenApi()],
    });
  },
  listen: (config) => ({ port: config.PORT, host: config.HOST }),
  shutdownTimeoutMs: (config) => config.SHUTDOWN_TIMEOUT_MS,
  keepAliveTimeoutMs: (config) => config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
});
