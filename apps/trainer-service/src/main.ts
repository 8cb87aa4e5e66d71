import { bootstrapService } from '@causeway/cqrs-core/nest';
import { AppModule } from './app.module';
import { trainerServiceConfiguration } from './config/trainer-service.config';

void bootstrapService({
  service: 'trainer-service',
  configuration: trainerServiceConfiguration,
  module: (config) => AppModule.forRoot(config),
  listen: (config) => ({ port: config.PORT, host: config.HOST }),
  shutdownTimeoutMs: (config) => config.SHUTDOWN_TIMEOUT_MS,
  keepAliveTimeoutMs: (config) => config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
});
