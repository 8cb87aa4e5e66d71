import {
  type DynamicModule,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { MAX_TIMER_MS } from '../config/settings.schema';
import { checkPositiveInteger } from '../connections/connection-options.check';
import { HealthMonitor } from '../health/health.monitor';
import { type HealthProbe } from '../health/health-probe.port';
import { ConnectionsLifecycle } from './connections.lifecycle';
import { HealthController } from './health.controller';
import { messageLogFields } from './log.fields';
import { checkName } from '../config/names.check';
import { REDACTED_LOG_PATHS, redactQuery, redactTarget, unloggedRequest } from './log.redaction';
import { MetricsController } from './metrics.controller';
import { ProblemDetailsFilter } from './problem-details.filter';
import { requestIdFor } from './request-id';
import { type ServiceOptions } from './service.options';
import { HEALTH_PROBES, METRICS_REGISTRY, SERVICE_OPTIONS } from './service.tokens';

/**
 * Runs the periodic checks behind GET /health from application bootstrap, when every
 * connection has been opened (ConnectionsLifecycle.onModuleInit) and the probes of the other
 * modules are being registered, so a healthy start never records a check of connections not
 * yet opened. Stops them at shutdown.
 */
@Injectable()
class HealthMonitorLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(private readonly monitor: HealthMonitor) {}

  onApplicationBootstrap(): void {
    this.monitor.start();
  }

  onApplicationShutdown(): void {
    this.monitor.stop();
  }
}

/**
 * What every Causeway service has: JSON logs (pino) without credentials, each request's line
 * with its id (`req.id`: the caller's X-Request-Id when well formed, else a UUID; echoed in
 * the answer's X-Request-Id), /health/live,
 * /health/ready, /metrics, RFC 9457 problem details for every HTTP error (unknown routes
 * included), and the lifecycle of its connections. Import once in the app's root module.
 */
@Module({})
export class CausewayServiceModule {
  /**
   * @throws TypeError naming `healthIntervalMs` or `probeTimeoutMs` when it is not a positive
   * integer of milliseconds (up to 2 147 483 647), or `service` or `instanceId` when it is not a
   * name (checkName)
   */
  static forRoot(options: ServiceOptions, registry: Registry = new Registry()): DynamicModule {
    // 0 would probe every server without pause (an interval) or fail every probe (a timeout):
    // refused here, naming the option, rather than when Nest builds the monitor.
    // They label every log line and metric (and CqrsCoreModule's consumer groups and topics).
    for (const option of ['service', 'instanceId'] as const)
      checkName('CausewayServiceModule.forRoot', option, options[option]);
    for (const option of ['healthIntervalMs', 'probeTimeoutMs'] as const)
      checkPositiveInteger('CausewayServiceModule.forRoot', option, options[option], MAX_TIMER_MS);
    // `instance_id`, not `instance`: Prometheus sets `instance` to the scrape target and would
    // rename ours to `exported_instance`.
    registry.setDefaultLabels({ service: options.service, instance_id: options.instanceId });
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
            // The message being handled (id, type, correlation and trace ids) on every line.
            mixin: messageLogFields,
            // Never log credentials: not in headers, not in the request target, not in a cookie set.
            redact: REDACTED_LOG_PATHS,
            // `req.id`: the caller's well-formed X-Request-Id or a UUID, echoed in the answer.
            genReqId: (req, res) => requestIdFor(req, res),
            serializers: {
              req: (req: { url?: string; query?: unknown; headers?: Record<string, unknown> }) => {
                req.url = redactTarget(req.url);
                if (req.query !== undefined) req.query = redactQuery(req.query);
                // The page a request came from may carry a credential in its query (a login
                // link's `?token=`). A copy: these are the request's own headers.
                const referer = req.headers?.referer;
                if (typeof referer === 'string')
                  req.headers = { ...req.headers, referer: redactTarget(referer) };
                return req;
              },
            },
            autoLogging: {
              ignore: (req) => unloggedRequest(req.url),
            },
          },
        }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
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
          // Started by HealthMonitorLifecycle, not here: the connections are not open yet.
          useFactory: (probes: (HealthProbe & { critical?: boolean })[]) =>
            new HealthMonitor({
              probes,
              intervalMs: options.healthIntervalMs,
              timeoutMs: options.probeTimeoutMs,
            }),
        },
        HealthMonitorLifecycle,
      ],
      // HealthMonitor: CqrsCoreModule records a check as soon as it has added its probes.
      exports: [SERVICE_OPTIONS, METRICS_REGISTRY, HEALTH_PROBES, HealthMonitor],
    };
  }
}
