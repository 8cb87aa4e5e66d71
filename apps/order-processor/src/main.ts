import { type Server } from 'node:http';
import { bootstrapService } from '@causeway/cqrs-core/nest';
import { allowCrossOrigin } from '@causeway/platform';
import { AppModule } from './app.module';
import { orderProcessorConfiguration } from './config/order-processor.config';
import { setupOrderProcessor } from './order-processor.setup';

void bootstrapService({
  service: 'order-processor',
  configuration: orderProcessorConfiguration,
  module: (config) => AppModule.forRoot(config),
  setup: (app, config) => {
    // Ahead of everything, as in command-api and sse-gateway (a 401 or 429 is marked too).
    allowCrossOrigin(app.getHttpServer() as Server, config.CORS_ORIGINS);
    setupOrderProcessor(app);
  },
  listen: (config) => ({ port: config.PORT, host: config.HOST }),
  shutdownTimeoutMs: (config) => config.SHUTDOWN_TIMEOUT_MS,
  keepAliveTimeoutMs: (config) => config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
});
