import { type DynamicModule, Module, type OnApplicationShutdown } from '@nestjs/common';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { tracingSettings } from './tracing.settings';

/** The app's OpenTelemetry SDK while tracing is on: flushed and shut down with the app. */
export class TracingSdk implements OnApplicationShutdown {
  constructor(readonly provider: NodeTracerProvider | undefined) {}

  async onApplicationShutdown(): Promise<void> {
    // The spans of the last deliveries (drained before this hook) are exported, then it stops.
    await this.provider?.shutdown().catch(() => undefined);
  }
}

/**
 * Registers the OpenTelemetry SDK when an OTLP endpoint is configured (tracingSettings):
 * spans of the `tracing` middleware and TracedPublisher (@causeway/cqrs-core/opentelemetry) are
 * batched and sent over OTLP/HTTP as JSON, with W3C Trace Context propagation. Without an
 * endpoint nothing is registered and those spans are not recorded (the trace context still
 * travels in the messages). Import it before the modules whose handlers it should trace.
 */
@Module({})
export class TracingModule {
  static forRoot(options: { service: string; env?: NodeJS.ProcessEnv }): DynamicModule {
    return {
      module: TracingModule,
      providers: [
        {
          provide: TracingSdk,
          useFactory: () => {
            const settings = tracingSettings(options.service, options.env);
            if (!settings) return new TracingSdk(undefined);
            const provider = new NodeTracerProvider({
              resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
              spanProcessors: [
                new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.url })),
              ],
            });
            provider.register(); // global tracer provider, AsyncLocalStorage context, W3C propagator
            return new TracingSdk(provider);
          },
        },
      ],
      exports: [TracingSdk],
    };
  }
}
