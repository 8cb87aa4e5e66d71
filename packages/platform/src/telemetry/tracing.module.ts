import { type DynamicModule, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { diag, type DiagLogger, DiagLogLevel } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { loggableUrl, tracingSettings } from './tracing.settings';

/** The app's OpenTelemetry SDK while tracing is on: flushed and shut down with the app. */
export class TracingSdk implements OnApplicationShutdown {
  constructor(readonly provider: NodeTracerProvider | undefined) {}

  async onApplicationShutdown(): Promise<void> {
    // The spans of the last deliveries (drained before this hook) are exported, then it stops.
    await this.provider?.shutdown().catch(() => undefined);
  }
}

/** OpenTelemetry's own warnings and errors (a failed export, say) as the app's JSON log lines. */
function diagLogger(logger: Logger): DiagLogger {
  const text = (message: string, args: unknown[]) =>
    [message, ...args.map((arg) => (arg instanceof Error ? arg.message : String(arg)))].join(' ');
  return {
    error: (message, ...args) => logger.error(text(message, args)),
    warn: (message, ...args) => logger.warn(text(message, args)),
    info: () => undefined,
    debug: () => undefined,
    verbose: () => undefined,
  };
}

/**
 * Registers the OpenTelemetry SDK when an OTLP endpoint is configured (tracingSettings):
 * spans of the `tracing` middleware, TracedPublisher and traceRequest
 * (@causeway/cqrs-core/opentelemetry) are batched and sent over OTLP/HTTP as JSON, with W3C
 * Trace Context propagation. The resource names the service and the instance
 * (`service.instance.id`), plus OTEL_RESOURCE_ATTRIBUTES. Failed exports are logged. Without
 * an endpoint nothing is registered and those spans are not recorded (the trace context still
 * travels in the messages).
 */
@Module({})
export class TracingModule {
  static forRoot(options: {
    service: string;
    instanceId: string;
    env?: NodeJS.ProcessEnv;
  }): DynamicModule {
    return {
      module: TracingModule,
      providers: [
        {
          provide: TracingSdk,
          useFactory: () => {
            const settings = tracingSettings(options.service, options.env);
            if (!settings) return new TracingSdk(undefined);
            const logger = new Logger('OpenTelemetry');
            diag.setLogger(diagLogger(logger), DiagLogLevel.WARN);
            // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (envDetector) win over the defaults.
            const resource = resourceFromAttributes({
              'service.name': settings.serviceName,
              'service.instance.id': options.instanceId,
            }).merge(detectResources({ detectors: [envDetector] }));
            const provider = new NodeTracerProvider({
              resource,
              spanProcessors: [
                new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.url })),
              ],
            });
            provider.register(); // global tracer provider, AsyncLocalStorage context, W3C propagator
            logger.log(
              `tracing: spans of ${settings.serviceName} (${options.instanceId}) go to ${loggableUrl(settings.url)}`,
            );
            return new TracingSdk(provider);
          },
        },
      ],
      exports: [TracingSdk],
    };
  }
}
