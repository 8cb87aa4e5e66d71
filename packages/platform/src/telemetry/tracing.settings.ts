import { ConfigurationError } from '@causeway/cqrs-core';

/**
 * Where spans go, from OpenTelemetry's own environment variables (the names every OpenTelemetry
 * SDK reads): tracing is on when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT
 * is set and OTEL_TRACES_EXPORTER / OTEL_SDK_DISABLED do not turn it off. The exporter reads
 * the rest itself (OTEL_EXPORTER_OTLP_HEADERS, …_TIMEOUT); OTEL_TRACES_SAMPLER picks the sampler.
 */
export interface TracingSettings {
  /** OTLP/HTTP (JSON) traces endpoint, e.g. `http://collector:4318/v1/traces`. */
  url: string;
  serviceName: string;
}

/** The tracing settings, undefined when tracing is off; a ConfigurationError names a bad one. */
export function tracingSettings(
  service: string,
  env: NodeJS.ProcessEnv = process.env,
): TracingSettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter === 'none') return undefined;
  if (exporter && exporter !== 'otlp')
    throw new ConfigurationError([
      {
        setting: 'OTEL_TRACES_EXPORTER',
        problem: `only "otlp" (OTLP over HTTP, JSON) or "none" are supported, got ${JSON.stringify(env.OTEL_TRACES_EXPORTER)}`,
      },
    ]);
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const setting = traces ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const value = traces || base;
  if (!value) return undefined;
  // The signal path is appended to the base endpoint only (OpenTelemetry's rule).
  const url = traces ? value : `${value.replace(/\/+$/, '')}/v1/traces`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError([
      { setting, problem: `expected an http(s) URL, got ${JSON.stringify(value)}` },
    ]);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new ConfigurationError([
      { setting, problem: `expected an http(s) URL, got ${JSON.stringify(value)}` },
    ]);
  return { url, serviceName: env.OTEL_SERVICE_NAME?.trim() || service };
}
