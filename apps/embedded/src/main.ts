import { type Server } from 'node:http';
import { Logger } from '@nestjs/common';
import { setupCommandApi } from '@causeway/command-api';
import { bootstrapService } from '@causeway/cqrs-core/nest';
import { allowCrossOrigin } from '@causeway/platform';
import { orderProcessorOpenApi } from '@causeway/order-processor';
import { gatewayOpenApi } from '@causeway/sse-gateway';
import { embeddedConfiguration } from './config/embedded.config';
import { EmbeddedModule } from './embedded.module';

void bootstrapService({
  service: 'embedded',
  configuration: embeddedConfiguration,
  module: (config) => EmbeddedModule.forRoot(config),
  // One /docs for the whole app: command-api's document with the SSE gateway's and
  // order-processor's (the progress reads) merged in.
  setup: (app, config) => {
    // The default is random per run (embedded.config): the admin API and the CLI would answer
    // 401 to any token an operator has, with no word why.
    if (!process.env.ADMIN_TOKEN)
      new Logger('AdminToken').warn(
        'ADMIN_TOKEN is not set: /admin/* takes a random token made for this run only (set ADMIN_TOKEN; npm start sets it from .infra/admin-token)',
      );
    // Ahead of everything: the commands and GET /events served in front of Express included.
    allowCrossOrigin(app.getHttpServer() as Server, config.CORS_ORIGINS);
    setupCommandApi(app, {
      accessLog: ['trace', 'debug', 'info'].includes(config.LOG_LEVEL),
      documents: [gatewayOpenApi(), orderProcessorOpenApi()],
    });
  },
  listen: (config) => ({ port: config.PORT, host: config.HOST }),
  shutdownTimeoutMs: (config) => config.SHUTDOWN_TIMEOUT_MS,
  keepAliveTimeoutMs: (config) => config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
});
