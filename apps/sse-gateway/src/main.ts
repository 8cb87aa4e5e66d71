import { type Server } from 'node:http';
import { bootstrapService } from '@causeway/cqrs-core/nest';
import { allowCrossOrigin } from '@causeway/platform';
import { AppModule } from './app.module';
import { sseGatewayConfiguration } from './config/sse-gateway.config';
import { setupSseGateway } from './sse-gateway.setup';

void bootstrapService({
  service: 'sse-gateway',
  configuration: sseGatewayConfiguration,
  module: (config) => AppModule.forRoot(config),
  setup: (app, config) => {
    // Ahead of everything, GET /events (put in front of Express when the app boots) included.
    allowCrossOrigin(app.getHttpServer() as Server, config.CORS_ORIGINS);
    setupSseGateway(app);
  },
  listen: (config) => ({ port: config.PORT, host: config.HOST }),
  shutdownTimeoutMs: (config) => config.SHUTDOWN_TIMEOUT_MS,
  keepAliveTimeoutMs: (config) => config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
});
