import { bootstrapService } from '@causeway/cqrs-core/nest';
import { AppModule } from './app.module';
import { sseGatewayConfiguration } from './config/sse-gateway.config';
import { setupSseGateway } from './sse-gateway.setup';

void bootstrapService({
  service: 'sse-gateway',
  configuration: sseGatewayConfiguration,
  module: (config) => AppModule.forRoot(config),
  setup: (app) => setupSseGateway(app),
  listen: (config) => ({ port: config.PORT, host: config.HOST }),
  shutdownTimeoutMs: (config) => config.SHUTDOWN_TIMEOUT_MS,
});
