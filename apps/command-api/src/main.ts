import { type Server } from 'node:http';
import { bootstrapService } from '@causeway/cqrs-core/nest';
import { allowCrossOrigin } from '@causeway/platform';
import { AppModule } from './app.module';
import { setupCommandApi } from './command-api.setup';
import { commandApiConfiguration } from './config/command-api.config';

void bootstrapService({
  service: 'command-api',
  configuration: commandApiConfiguration,
  module: (config) => AppModule.forRoot(config),
  setup: (app, config) => {
    // Ahead of everything, the command endpoints served in front of Express included.
    allowCrossOrigin(app.getHttpServer() as Server, config.CORS_ORIGINS);
    setupCommandApi(app, {
      maxBodyBytes: config.MAX_BODY_BYTES,
      accessLog: ['trace', 'debug', 'info'].includes(config.LOG_LEVEL),
      commandsThroughExpress: config.COMMANDS_THROUGH_EXPRESS,
    });
  },
  listen: (config) => ({ port: config.PORT, host: config.HOST }),
  shutdownTimeoutMs: (config) => config.SHUTDOWN_TIMEOUT_MS,
  keepAliveTimeoutMs: (config) => config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
});
