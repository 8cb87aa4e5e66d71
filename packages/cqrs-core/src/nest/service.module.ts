import { type DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { HealthMonitor } from '../health/health.monitor';
import { type HealthProbe } from '../health/health-probe.port';
import { ConnectionsLifecycle } from './connections.lifecycle';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';
import { type ServiceOptions } from './service.options';
import { HEALTH_PROBES, METRICS_REGISTRY, SERVICE_OPTIONS } from './service.tokens';

/**
 * What every Causeway service has: JSON logs (pino), /health/live, /health/ready, /metrics,
 * and the lifecycle of its connections. Import once in the app's root module.
 */
@Module({})
export class CausewayServiceModule {
  static forRoot(options: ServiceOptions, registry: Registry = new Registry()): DynamicModule {
    registry.setDefaultLabels({ service: options.service, instance: options.instanceId });
    collectDefaultMetrics({ register: registry });
    return {
      module: CausewayServiceModule,
      global: true,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        LoggerModule.forRoot({
          pinoHttp: {
            level: options.logLevel,
            base: { service: options.service, instance: options.instanceId },
            // Never log credentials.
            redact: ['req.headers.authorization', 'req.headers.cookie', 'req.query.token'],
            autoLogging: {
              ignore: (req) => req.url === '/metrics' || (req.url ?? '').startsWith('/health'),
            },
          },
        }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: SERVICE_OPTIONS, useValue: options },
        { provide: METRICS_REGISTRY, useValue: registry },
        // One mutable list: other modules (CqrsCoreModule) add their probes at start-up.
        {
          provide: HEALTH_PROBES,
          useValue: [...(options.connections ?? []), ...(options.probes ?? [])],
        },
        ConnectionsLifecycle,
        {
          provide: HealthMonitor,
          inject: [HEALTH_PROBES],
          useFactory: (probes: (HealthProbe & { critical?: boolean })[]) => {
            const monitor = new HealthMonitor({
              probes,
              intervalMs: options.healthIntervalMs,
              timeoutMs: options.probeTimeoutMs,
            });
            monitor.start();
            return monitor;
          },
        },
      ],
      exports: [SERVICE_OPTIONS, METRICS_REGISTRY, HEALTH_PROBES],
    };
  }
}
